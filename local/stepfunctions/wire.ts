import type { AwsRequest } from "../gateway/request.js";
import { type AwsResponse, awsError, jsonResult } from "../gateway/response.js";
import type { ServiceHandler } from "../gateway/server.js";
import { SfnApiError } from "./errors.js";
import type { StepFunctionsService } from "./service.js";

/**
 * Step Functions on the wire: AWS JSON protocol 1.0, `X-Amz-Target: AWSStepFunctions.<Action>`,
 * timestamps as epoch seconds, errors as `{__type, message}` with AWS's codes.
 */

type Operation = (service: StepFunctionsService, request: Record<string, unknown>) => unknown;

const OPERATIONS: Record<string, Operation> = {
  CreateStateMachine: (s, r) => s.createStateMachine(r),
  DescribeStateMachine: (s, r) => s.describeStateMachine(r),
  ListStateMachines: (s, r) => s.listStateMachines(r),
  UpdateStateMachine: (s, r) => s.updateStateMachine(r),
  DeleteStateMachine: (s, r) => s.deleteStateMachine(r),
  StartExecution: (s, r) => s.startExecution(r),
  DescribeExecution: (s, r) => s.describeExecution(r),
  DescribeStateMachineForExecution: (s, r) => s.describeStateMachineForExecution(r),
  ListExecutions: (s, r) => s.listExecutions(r),
  StopExecution: (s, r) => s.stopExecution(r),
  GetExecutionHistory: (s, r) => s.getExecutionHistory(r),
  TagResource: (s, r) => s.tagResource(r),
  UntagResource: (s, r) => s.untagResource(r),
  ListTagsForResource: (s, r) => s.listTagsForResource(r),
};

const TARGET_PREFIX = "AWSStepFunctions.";

/** Dates become epoch seconds (with milliseconds), as the JSON protocol encodes timestamps. */
export function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, toWire(v)]),
    );
  }
  return value;
}

export function stepFunctionsWire(service: StepFunctionsService): ServiceHandler {
  return {
    name: "stepfunctions",
    handles: (request: AwsRequest) =>
      request.protocol === "json" &&
      (request.service === "states" ||
        String(request.headers["x-amz-target"] ?? "").startsWith(TARGET_PREFIX)),
    handle: async (request: AwsRequest): Promise<AwsResponse> => {
      const operation = OPERATIONS[request.action];
      if (!operation) {
        return awsError(
          "json",
          "states",
          400,
          "UnknownOperationException",
          `The local cloud does not implement Step Functions ${request.action} (it serves: ${Object.keys(OPERATIONS).join(", ")})`,
        );
      }
      try {
        return jsonResult(toWire(await operation(service, request.json)));
      } catch (error) {
        if (error instanceof SfnApiError)
          return awsError("json", "states", error.status, error.code, error.message);
        throw error;
      }
    },
  };
}
