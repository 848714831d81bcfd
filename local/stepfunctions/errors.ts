/** An error the Step Functions API answers with: `{__type: code, message}` on the wire. */
export class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/**
 * A Task's failure as the state machine sees it. aws-local-stepfunctions matches Retry and Catch on
 * `error.name` and reports `error.message` as the Cause, so the AWS error name goes in `name` and
 * the cause text in `message`.
 */
export class TaskFailure extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}
