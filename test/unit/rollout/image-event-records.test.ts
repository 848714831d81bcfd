import { describe, expect, it } from "vitest";
import { eventDetails, imageEventFacts, imageEventSubject } from "../../../src/images/event-records.js";

describe("what the audit trail keeps of an image event", () => {
  const ami = {
    version: "0",
    id: "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 AMI State Change",
    source: "aws.ec2",
    time: "2026-11-01T00:00:00Z",
    region: "us-east-1",
    resources: ["arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0"],
    detail: { ImageId: "ami-0123456789abcdef0", State: "failed" },
  };

  it("keys an event by its id, so a redelivery writes no second record", () => {
    expect(imageEventFacts(ami)).toEqual({
      key: ami.id,
      id: ami.id,
      source: "aws.ec2",
      detailType: "EC2 AMI State Change",
      time: "2026-11-01T00:00:00Z",
    });
    expect(imageEventFacts(structuredClone(ami)).key).toBe(imageEventFacts(ami).key);
  });

  it("keys an event without a usable id by a digest of the event", () => {
    const { id: _, ...noId } = ami;
    const key = imageEventFacts(noId).key;
    expect(key).toMatch(/^digest-[0-9a-f]{32}$/);
    expect(imageEventFacts(structuredClone(noId)).key).toBe(key);
    expect(imageEventFacts({ ...ami, id: "x".repeat(500) }).key).toMatch(/^digest-/);
    expect(imageEventFacts(null).key).toMatch(/^digest-/);
  });

  it("files the record under the image, the Image Builder image, the parameter, or else the event", () => {
    expect(imageEventSubject(ami)).toEqual({
      subject: "image/ami-0123456789abcdef0",
      imageId: "ami-0123456789abcdef0",
    });
    const arn = "arn:aws:imagebuilder:us-east-1:111122223333:image/web/1.0.0/1";
    expect(
      imageEventSubject({
        id: "e",
        source: "aws.imagebuilder",
        resources: [`${arn.replace(":image/", ":image-pipeline/")}`, arn],
        detail: {},
      }).subject,
    ).toBe(`image/${arn}`);
    expect(
      imageEventSubject({ id: "e", source: "aws.ssm", detail: { name: "/phoenix/images/web" } }).subject,
    ).toBe("parameter//phoenix/images/web");
    expect(
      imageEventSubject({ id: "e", source: "aws.imagebuilder", resources: [], detail: {} }).subject,
    ).toBe("event/e");
  });

  it("never makes a subject of an oversized or malformed value, nor throws on a hostile event", () => {
    expect(imageEventSubject({ id: "e", detail: { ImageId: `ami-${"0".repeat(5000)}` } }).subject).toBe(
      "event/e",
    );
    expect(imageEventSubject({ id: "e", source: "aws.ssm", detail: { name: "a b" } }).subject).toBe(
      "event/e",
    );
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("no");
        },
      },
    );
    expect(() => imageEventFacts(hostile)).not.toThrow();
    expect(imageEventSubject(hostile).subject).toMatch(/^event\/digest-/);
  });

  it("says how many deliveries the decision took", () => {
    expect(eventDetails(imageEventFacts(ami), { attempt: 2, maxAttempts: 6 })).toEqual({
      eventId: ami.id,
      source: "aws.ec2",
      detailType: "EC2 AMI State Change",
      eventTime: "2026-11-01T00:00:00Z",
      attempt: 2,
      maxAttempts: 6,
    });
  });
});
