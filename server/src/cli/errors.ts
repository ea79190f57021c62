/** An error the CLI reports as is, with its exit code (2: invalid input, 1: anything else). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
