/**
 * The result of ticking a node (WIZARDS.md §1.2, Palm's `PatternStatus`).
 *
 * - `success` / `failure`: the node is done.
 * - `running`: the node has more work to do and wants to be ticked again.
 * - `waiting`: the node cannot progress until something outside the tree happens (input from a
 *   person, the result of a host task). The host parks the run instead of ticking it again.
 */
export const Status = {
  Success: 'success',
  Failure: 'failure',
  Running: 'running',
  Waiting: 'waiting',
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const ALL: ReadonlySet<unknown> = new Set(Object.values(Status));

export function isStatus(value: unknown): value is Status {
  return ALL.has(value);
}

/** `running` and `waiting` nodes are active: they hold work that a halt must release. */
export function isActive(status: Status | undefined): boolean {
  return status === Status.Running || status === Status.Waiting;
}

export function isTerminalStatus(status: Status): boolean {
  return status === Status.Success || status === Status.Failure;
}
