import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { amiStateChangeEvent, readImageResponse } from "../../../local/events/ami-state.js";
import { eventFromMessageBody, failedRecordIds, sqsRecord } from "../../../local/events/delivery.js";
import { instanceStateChangeEvent, stateTransitions } from "../../../local/events/instance-state.js";
import { Journal, sharedSequence } from "../../../local/events/journal.js";

describe("events as handlers receive them", () => {
  it("reads a moto SQS body into the EventBridge event AWS would deliver", () => {
    const body = JSON.stringify({
      id: "e1",
      time: "2026-01-02T03:04:05Z",
      version: "0",
      "detail-type": "GuardDuty Finding",
      source: "aws.guardduty",
      region: "us-east-1",
      resources: [],
      detail: { severity: 8 },
      "ingestion-time": 1767322245.1,
    });
    const event = eventFromMessageBody(body, "123456789012");
    expect(Object.keys(event)).toEqual([
      "version",
      "id",
      "detail-type",
      "source",
      "account",
      "time",
      "region",
      "resources",
      "detail",
    ]);
    expect(event.account).toBe("123456789012");
    expect(event.detail).toEqual({ severity: 8 });
  });

  it("refuses a body that is not an event", () => {
    expect(() => eventFromMessageBody("[1]", "1")).toThrow(/not a JSON object/);
    expect(() => eventFromMessageBody('{"detail":{}}', "1")).toThrow(/no source or detail-type/);
    expect(() => eventFromMessageBody("not json", "1")).toThrow();
  });

  it("builds Lambda's SQS record from a received message", () => {
    const record = sqsRecord(
      {
        MessageId: "m1",
        ReceiptHandle: "r1",
        Body: "ignored",
        Attributes: {
          ApproximateReceiveCount: "2",
          SentTimestamp: "1000",
          SenderId: "S",
          ApproximateFirstReceiveTimestamp: "1001",
        },
      },
      '{"a":1}',
      "arn:aws:sqs:us-east-1:123456789012:phoenix-finding-buffer",
      "us-east-1",
    );
    expect(record).toEqual({
      messageId: "m1",
      receiptHandle: "r1",
      body: '{"a":1}',
      attributes: {
        ApproximateReceiveCount: "2",
        SentTimestamp: "1000",
        SenderId: "S",
        ApproximateFirstReceiveTimestamp: "1001",
      },
      messageAttributes: {},
      md5OfBody: createHash("md5").update('{"a":1}').digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:phoenix-finding-buffer",
      awsRegion: "us-east-1",
    });
  });

  it("decides which batch records failed as Lambda's ReportBatchItemFailures does", () => {
    const records = ["a", "b", "c"].map((id) => sqsRecord({ MessageId: id }, "{}", "arn", "us-east-1"));
    expect(failedRecordIds(records, { result: undefined })).toEqual(new Set());
    expect(failedRecordIds(records, { error: new Error("x") })).toEqual(new Set(["a", "b", "c"]));
    expect(failedRecordIds(records, { result: { batchItemFailures: [{ itemIdentifier: "b" }] } })).toEqual(
      new Set(["b"]),
    );
    expect(failedRecordIds(records, { result: { batchItemFailures: [] } })).toEqual(new Set());
    // An identifier Lambda cannot find fails the whole batch.
    expect(failedRecordIds(records, { result: { batchItemFailures: [{ itemIdentifier: "zzz" }] } })).toEqual(
      new Set(["a", "b", "c"]),
    );
  });
});

describe("events EC2 emits", () => {
  it("reads the image id and request id from EC2's XML answer", () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<CreateImageResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
      "<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><imageId>ami-1234567890abcdef0</imageId></CreateImageResponse>";
    expect(readImageResponse(xml)).toEqual({
      imageId: "ami-1234567890abcdef0",
      requestId: "59dbff89-35bd-4eac-99ed-be587EXAMPLE",
    });
    expect(readImageResponse("<Response><Errors/></Response>")).toEqual({
      imageId: undefined,
      requestId: undefined,
    });
  });

  it("shapes AMI and instance events as EC2 does", () => {
    expect(
      amiStateChangeEvent({ imageId: "ami-1", state: "available", requestId: "r" }, "eu-west-1"),
    ).toEqual({
      source: "aws.ec2",
      detailType: "EC2 AMI State Change",
      resources: ["arn:aws:ec2:eu-west-1::image/ami-1"],
      detail: { RequestId: "r", ImageId: "ami-1", State: "available", ErrorMessage: "" },
    });
    expect(instanceStateChangeEvent("i-1", "running", "us-east-1", "123456789012")).toEqual({
      source: "aws.ec2",
      detailType: "EC2 Instance State-change Notification",
      resources: ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],
      detail: { "instance-id": "i-1", state: "running" },
    });
  });

  it("fills in the instance states AWS reports between two looks", () => {
    expect(stateTransitions(undefined, "running")).toEqual(["pending", "running"]);
    expect(stateTransitions(undefined, "pending")).toEqual(["pending"]);
    expect(stateTransitions("running", "terminated")).toEqual(["shutting-down", "terminated"]);
    expect(stateTransitions("running", "stopped")).toEqual(["stopping", "stopped"]);
    expect(stateTransitions("stopped", "running")).toEqual(["pending", "running"]);
    expect(stateTransitions("pending", "terminated")).toEqual(["shutting-down", "terminated"]);
    expect(stateTransitions(undefined, "terminated")).toEqual(["pending", "shutting-down", "terminated"]);
    expect(stateTransitions("running", "running")).toEqual([]);
    // Not a lifecycle move: report only where it ended.
    expect(stateTransitions("terminated", "running")).toEqual(["running"]);
  });
});

describe("the events journal", () => {
  it("keeps the newest entries, numbered in one series across journals", () => {
    const sequence = sharedSequence();
    const deliveries = new Journal<{ name: string }>(3, sequence);
    const emitted = new Journal<{ name: string }>(3, sequence);
    for (const name of ["a", "b", "c", "d"]) deliveries.add({ name });
    emitted.add({ name: "e" });
    expect(deliveries.since().map((e) => [e.seq, e.name])).toEqual([
      [2, "b"],
      [3, "c"],
      [4, "d"],
    ]);
    expect(emitted.since(4)).toEqual([{ name: "e", seq: 5 }]);
    expect(deliveries.since(0, 1).map((e) => e.name)).toEqual(["d"]);
    expect(deliveries.total).toBe(4);
  });
});
