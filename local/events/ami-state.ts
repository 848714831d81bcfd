import { AMI_STATE_CHANGE } from "../../src/images/triggers.js";
import type { BusEvent, LocalCloudContext } from "../core/context.js";
import type { ResponseObserver } from "../gateway/server.js";

/** The EC2 calls after which AWS emits `EC2 AMI State Change` with State `available`. */
const IMAGE_CREATING_ACTIONS = new Set(["CreateImage", "RegisterImage", "CopyImage"]);

/** `EC2 AMI State Change` as EC2 puts it on the bus (detail keys in AWS's order). */
export function amiStateChangeEvent(
  image: { imageId: string; state: string; requestId: string; errorMessage?: string },
  region: string,
): BusEvent {
  return {
    source: "aws.ec2",
    detailType: AMI_STATE_CHANGE,
    // An AMI's ARN has no account: arn:aws:ec2:<region>::image/<id>.
    resources: [`arn:aws:ec2:${region}::image/${image.imageId}`],
    detail: {
      RequestId: image.requestId,
      ImageId: image.imageId,
      State: image.state,
      ErrorMessage: image.errorMessage ?? "",
    },
  };
}

/** The image id and request id in an EC2 Query-protocol response (moto's XML). */
export function readImageResponse(xml: string): { imageId?: string; requestId?: string } {
  return {
    imageId: /<imageId>\s*(ami-[0-9a-z]+)\s*<\/imageId>/.exec(xml)?.[1],
    requestId: /<requestId>\s*([^<\s]+)\s*<\/requestId>/i.exec(xml)?.[1],
  };
}

export interface AmiStateOptions {
  /** Simulated ms between the creating call and `available` (AWS: minutes). */
  availableAfterMs: number;
  emit(events: BusEvent[]): Promise<void>;
}

/**
 * Emits the AMI events EC2 emits for calls made through the gateway: `available` a while
 * after CreateImage/RegisterImage/CopyImage, `deregistered` on DeregisterImage.
 *
 * AWS emits this event only on entering available, failed, deregistered or disabled (never
 * `pending`), so neither does the local cloud: a handler written against it works in AWS.
 * moto's image is already `available` meanwhile; only the event is delayed.
 */
export class AmiStateEmitter {
  private readonly abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly context: Pick<LocalCloudContext, "clock" | "region" | "log">,
    private readonly options: AmiStateOptions,
  ) {}

  readonly observe: ResponseObserver = (request, response) => {
    if (request.service !== "ec2" || request.region !== this.context.region) return;
    if (IMAGE_CREATING_ACTIONS.has(request.action)) {
      const { imageId, requestId } = readImageResponse(response.body.toString("utf8"));
      if (imageId)
        this.later(this.options.availableAfterMs, {
          imageId,
          state: "available",
          requestId: requestId ?? "",
        });
    } else if (request.action === "DeregisterImage") {
      const imageId = request.params.get("ImageId");
      const { requestId } = readImageResponse(response.body.toString("utf8"));
      if (imageId) this.later(0, { imageId, state: "deregistered", requestId: requestId ?? "" });
    }
  };

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  private later(delayMs: number, image: { imageId: string; state: string; requestId: string }): void {
    const task = this.context.clock
      .sleep(delayMs, this.abort.signal)
      .then(() => this.options.emit([amiStateChangeEvent(image, this.context.region)]))
      .catch((error: unknown) => {
        if (!this.abort.signal.aborted) {
          this.context.log(
            `events: AMI ${image.imageId} ${image.state} event not emitted: ${(error as Error).message}`,
          );
        }
      })
      .finally(() => this.pending.delete(task));
    this.pending.add(task);
  }
}
