/**
 * The registered parts of examples/trees/ingest-pipeline.yaml: pure functions over the
 * blackboard. The I/O (extract, load) is done by the host as durable steps (task leaves).
 */
import { Status, TreeRegistry } from '../../src/tree/index.js';

interface ColumnMapping {
  column: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
}

function convert(value: unknown, type: ColumnMapping['type']): unknown {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  switch (type) {
    case 'integer':
      return Number.parseInt(text, 10);
    case 'number':
      return Number.parseFloat(text);
    case 'boolean':
      return /^(true|yes|1)$/i.test(text);
    case 'date':
      return text.slice(0, 10);
    case 'string':
      return text;
  }
}

export function ingestRegistry(): TreeRegistry {
  return new TreeRegistry()
    .action('transform', ({ blackboard }) => {
      const raw = blackboard.get<Record<string, unknown>[]>('raw_rows');
      const columns = blackboard.get<ColumnMapping[]>('columns');
      if (!Array.isArray(raw) || !Array.isArray(columns)) return Status.Failure;
      const rows = raw.map((r) => Object.fromEntries(columns.map((c) => [c.column, convert(r[c.column], c.type)])));
      blackboard.set('rows', rows);
      blackboard.set('load_request', { table: blackboard.get('table'), rows, batchSize: blackboard.get('batch_size') });
      return undefined;
    })
    .condition('has-rows', ({ blackboard }) => (blackboard.get<unknown[]>('rows')?.length ?? 0) > 0);
}
