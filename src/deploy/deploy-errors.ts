/** A deployment the node refuses: an HTTP status and a machine-readable code, and nothing changed. */
export class DeployError extends Error {
  override name = 'DeployError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
