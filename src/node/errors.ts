// The one error a user can act on: its message names the file, field or host and says what to
// do, and never carries secret material. Commands print it without a stack trace.
export class UserError extends Error {}
