/**
 * A URL with its password hidden, for messages and labels: `postgres://keel:***@db/app`. A URL
 * without a password comes back as it was; text that does not parse as a URL is masked the same
 * way where it has the `//user:password@` shape.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
