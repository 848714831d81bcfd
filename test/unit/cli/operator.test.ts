import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, describe, expect, it } from "vitest";
import { callerArn, signedHeaders } from "../../../cli/aws/identity.js";
import { formatIgnored, ignoredEvents } from "../../../cli/aws/ignored.js";
import { actorOf } from "../../../cli/aws/session.js";
import { parseCommandArgs } from "../../../cli/lib/args.js";
import { closest } from "../../../cli/lib/suggest.js";
import { main } from "../../../cli/main.js";
import { stepsOf } from "../../../local/dashboard/state.js";
import { esc, shortId } from "../../../local/dashboard/view.js";
import { CliError, type CommandIO, EXIT } from "../../../ops/io.js";
import { plural, truncateAtWord } from "../../../ops/output.js";
import { type LocalCloudRecord, liveLocalClouds, recordLocalCloud } from "../../../ops/registry.js";
import { resolveTarget } from "../../../ops/target.js";
import type { AuditRecord } from "../../../src/audit/audit.js";

/** Issue 18's operator experience, in the parts that need no cloud. */

const record = (port: number, extra: Partial<LocalCloudRecord> = {}): LocalCloudRecord => ({
  endpoint: `http://127.0.0.1:${port}`,
  port,
  pid: process.pid,
  command: "phoenix local",
  startedAt: "2030-01-01T00:00:00.000Z",
  speed: 1,
  stage: "local",
  user: "me",
  root: "/checkout",
  ...extra,
});

const fail = (work: () => unknown): CliError => {
  try {
    work();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error("expected a CliError");
};

describe("where the CLI goes", () => {
  it("--local goes to the one local cloud recorded, whatever its port, with its stage and policy", () => {
    const target = resolveTarget({ local: true }, {}, { clouds: () => [record(4640, { policy: { x: 1 } })] });
    expect(target).toMatchObject({
      endpoint: "http://127.0.0.1:4640",
      local: true,
      via: "--local",
      stage: "local",
    });
    expect(target.cloud?.policy).toEqual({ x: 1 });
    expect(target.credentials).toEqual({ accessKeyId: "test", secretAccessKey: "test" });
  });

  it("--local refuses to guess: several clouds, or one that AWS_ENDPOINT_URL contradicts", () => {
    const two = () => [record(4566), record(4640)];
    const several = fail(() => resolveTarget({ local: true }, {}, { clouds: two }));
    expect(several.exitCode).toBe(EXIT.usage);
    expect(several.message).toContain("--local is ambiguous: 2 local clouds");
    expect(several.message).toContain("--port 4566");
    expect(several.message).toContain("--port 4640");
    // AWS_ENDPOINT_URL naming one of them settles it.
    expect(
      resolveTarget({ local: true }, { AWS_ENDPOINT_URL: "http://127.0.0.1:4640/" }, { clouds: two })
        .endpoint,
    ).toBe("http://127.0.0.1:4640");
    const contradicted = fail(() =>
      resolveTarget(
        { local: true },
        { AWS_ENDPOINT_URL: "http://127.0.0.1:4566" },
        { clouds: () => [record(4640)] },
      ),
    );
    expect(contradicted.message).toContain("AWS_ENDPOINT_URL says http://127.0.0.1:4566");
    expect(contradicted.message).toContain("--port 4640");
  });

  it("--local with nothing recorded never guesses 4566: AWS_ENDPOINT_URL if loopback, else an error", () => {
    expect(
      resolveTarget({ local: true }, { AWS_ENDPOINT_URL: "http://localhost:5000" }, { clouds: () => [] }),
    ).toMatchObject({ endpoint: "http://localhost:5000", via: "AWS_ENDPOINT_URL", local: true });
    const none = fail(() => resolveTarget({ local: true }, {}, { clouds: () => [] }));
    expect(none.exitCode).toBe(EXIT.environment);
    expect(none.message).toContain("No local cloud is running from this checkout");
    expect(none.message).toContain("--port N or --endpoint URL");
  });

  it("--port and --endpoint name a cloud; they win over AWS_ENDPOINT_URL and are checked", () => {
    const env = { AWS_ENDPOINT_URL: "http://127.0.0.1:4566" };
    const clouds = () => [record(4640, { stage: "demo" })];
    expect(resolveTarget({ port: "4640" }, env, { clouds })).toMatchObject({
      endpoint: "http://127.0.0.1:4640",
      via: "--port",
      stage: "demo",
    });
    expect(resolveTarget({ endpoint: "https://vpce.example.com" }, env, { clouds })).toMatchObject({
      endpoint: "https://vpce.example.com",
      local: false,
      stage: "local",
    });
    expect(fail(() => resolveTarget({ port: "44x" }, {}, { clouds })).message).toContain("--port must be");
    expect(fail(() => resolveTarget({ endpoint: "127.0.0.1:4640" }, {}, { clouds })).message).toContain(
      "must be a URL like http://",
    );
    expect(fail(() => resolveTarget({ endpoint: "ftp://127.0.0.1:21" }, {}, { clouds })).message).toContain(
      "must be an http:// or https:// URL",
    );
    expect(fail(() => resolveTarget({ port: "1", endpoint: "http://x" }, {}, { clouds })).exitCode).toBe(
      EXIT.usage,
    );
    expect(
      fail(() => resolveTarget({ local: true, endpoint: "https://sts.amazonaws.com" }, {}, { clouds }))
        .message,
    ).toContain("not a loopback address");
  });

  it("no flag: AWS_ENDPOINT_URL, else AWS", () => {
    expect(
      resolveTarget({}, { AWS_ENDPOINT_URL: "http://127.0.0.1:4700" }, { clouds: () => [] }),
    ).toMatchObject({
      endpoint: "http://127.0.0.1:4700",
      via: "AWS_ENDPOINT_URL",
    });
    expect(resolveTarget({}, {}, { clouds: () => [] })).toMatchObject({ local: false, stage: "production" });
  });
});

describe("the run directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "phoenix-run-unit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("records a running cloud, forgets it when it stops, and ignores records of dead processes", () => {
    const env = { PHOENIX_RUN_DIR: dir };
    const remove = recordLocalCloud(
      { endpoint: "http://127.0.0.1:4641", port: 4641, command: "phoenix local", speed: 1, stage: "local" },
      env,
    );
    expect(liveLocalClouds(env).map((r) => r.port)).toEqual([4641]);
    // A record left by a process that is gone (killed -9): ignored and cleaned up.
    writeFileSync(join(dir, "local-cloud-4642.json"), JSON.stringify(record(4642, { pid: 2 ** 22 + 7 })));
    expect(liveLocalClouds(env).map((r) => r.port)).toEqual([4641]);
    expect(readdirSync(dir)).toEqual(["local-cloud-4641.json"]);
    remove();
    expect(liveLocalClouds(env)).toEqual([]);
  });
});

describe("messages", () => {
  it("suggests the option or command that was meant", () => {
    expect(closest("--reson", ["--reason", "--force", "--watch"])).toBe("--reason");
    expect(closest("stauts", ["status", "watch", "audit"])).toBe("status");
    expect(closest("--rea", ["--reason", "--force"])).toBe("--reason");
    expect(closest("--colour", ["--reason", "--force"])).toBeUndefined();
    const error = (() => {
      try {
        parseCommandArgs(["--reson", "x"], { reason: { type: "string" }, force: { type: "boolean" } }, 1);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(error).toBe("unknown option --reson: did you mean --reason?");
  });

  it("an unknown command gets a suggestion, not the whole help", async () => {
    const err: string[] = [];
    const io: CommandIO = {
      out: () => {},
      err: (t) => err.push(t),
      env: {},
      interrupted: () => new Promise(() => {}),
    };
    expect(await main(["stauts"], io)).toBe(EXIT.usage);
    expect(err.join("\n")).toContain('unknown command "stauts": did you mean "status"?');
    expect(err.join("\n")).not.toContain("Commands:");
  });

  it("plural and word-boundary truncation keep ids whole", () => {
    expect(plural(1, "instance")).toBe("1 instance");
    expect(plural(2, "instance")).toBe("2 instances");
    const cause =
      "web-frontend rolled-back (Automatic rollback: Instance i-73890099044f9d82b (image ami-c343e41102bc308c4) failed health checks";
    const cut = truncateAtWord(cause, 100);
    expect(cut.length).toBeLessThanOrEqual(100);
    expect(cut).toMatch(/ …$/);
    // Whatever id appears, it appears whole.
    for (const id of cut.match(/(?:i|ami)-[0-9a-f]+/g) ?? []) expect(cause).toMatch(new RegExp(`${id}\\b`));
    expect(cut).not.toContain("ami-c343");
  });

  it("ignored events name what was not acted on and why", () => {
    const records = [
      {
        at: "2030-01-01T00:00:00.000Z",
        subject: "finding/abc",
        action: "route",
        outcome: "skipped",
        actor: "phoenix:on-finding",
        reason: "This is a sample finding.",
        details: { type: "Backdoor:EC2/X", severity: 8, instanceId: "i-0123456789abcdef0", action: "ignore" },
      },
      {
        at: "2030-01-01T00:00:01.000Z",
        subject: "instance/i-1",
        action: "isolate",
        outcome: "ok",
        actor: "x",
      },
      {
        at: "2030-01-01T00:00:02.000Z",
        subject: "image/ami-1",
        action: "ignore-image-event",
        outcome: "skipped",
        actor: "phoenix:on-image",
        reason: "not available",
      },
    ] as AuditRecord[];
    const ignored = ignoredEvents(records);
    expect(ignored.map((e) => e.kind)).toEqual(["finding", "image event"]);
    expect(formatIgnored(ignored[0]!)).toBe(
      "2030-01-01 00:00:00  finding Backdoor:EC2/X (severity 8) on i-0123456789abcdef0: ignored. This is a sample finding.",
    );
  });
});

describe("the actor in the audit trail", () => {
  it("is the login name, else the caller's AWS identity, never user:unknown", async () => {
    expect(await actorOf({ USER: "alice" })).toBe("user:alice");
    expect(await actorOf({ PHOENIX_ACTOR: "bot", USER: "alice" })).toBe("user:bot");
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const signed = String(req.headers.authorization ?? "").startsWith(
          "AWS4-HMAC-SHA256 Credential=AKID/",
        );
        res.writeHead(signed && body.includes("Action=GetCallerIdentity") ? 200 : 403);
        res.end(
          "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/OnCall/alice</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>",
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const connection = {
        region: "us-east-1",
        credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
        target: { endpoint, stage: "local", local: true },
      } as unknown as Parameters<typeof actorOf>[1];
      expect(await actorOf({}, connection)).toBe("user:arn:aws:sts::123456789012:assumed-role/OnCall/alice");
      // Unreachable STS: the process's account name, still not "unknown".
      expect(
        await callerArn({
          region: "us-east-1",
          credentials: { accessKeyId: "a", secretAccessKey: "b" },
          endpoint: "http://127.0.0.1:1",
        }),
      ).toBeUndefined();
    } finally {
      server.close();
    }
  });

  it("signs GetCallerIdentity exactly as the SDK's SigV4 signer does", async () => {
    class Sha256 {
      private readonly hash;
      constructor(secret?: Uint8Array | string) {
        this.hash = secret ? createHmac("sha256", secret) : createHash("sha256");
      }
      update(data: Uint8Array | string) {
        this.hash.update(data);
      }
      async digest() {
        return new Uint8Array(this.hash.digest());
      }
      reset() {}
    }
    const credentials = {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: "token/1",
    };
    const now = new Date("2030-05-06T07:08:09.000Z");
    const url = new URL("https://sts.eu-west-1.amazonaws.com/");
    const body = "Action=GetCallerIdentity&Version=2011-06-15";
    const contentType = "application/x-www-form-urlencoded; charset=utf-8";
    const mine = signedHeaders({
      method: "POST",
      url,
      body,
      region: "eu-west-1",
      service: "sts",
      credentials,
      headers: { "content-type": contentType },
      now,
    });
    const sdk = await new SignatureV4({
      credentials,
      region: "eu-west-1",
      service: "sts",
      sha256: Sha256 as never,
      applyChecksum: false,
    }).sign(
      {
        method: "POST",
        protocol: "https:",
        hostname: url.hostname,
        path: "/",
        query: {},
        headers: { host: url.host, "content-type": contentType },
        body,
      },
      { signingDate: now },
    );
    expect(mine.authorization).toBe(sdk.headers["authorization"]);
  });
});

describe("the dashboard's pieces", () => {
  it("a standalone containment's Replace and Dispose are skipped steps", () => {
    const exited = (name: string, results: Record<string, unknown>) => ({
      type: "TaskStateExited" as const,
      timestamp: new Date("2030-01-01T00:00:00Z"),
      id: 1,
      stateExitedEventDetails: { name, output: JSON.stringify({ results }) },
    });
    const steps = stepsOf([
      exited("Isolate", { isolate: { ok: true } }),
      exited("Replace", { replace: { replaced: false } }),
      exited("Dispose", {
        replace: { replaced: false },
        dispose: { disposition: "kept", reason: "standalone" },
      }),
      exited("Report", {}),
    ]);
    expect(steps.map((s) => `${s.name}:${s.outcome}`)).toEqual([
      "Isolate:done",
      "Replace:skipped",
      "Dispose:skipped",
      "Report:done",
    ]);
    expect(steps[0]?.at).toBe("2030-01-01T00:00:00.000Z");
  });

  it("escapes what it shows and shortens ids", () => {
    expect(esc(`<img src=x onerror="a">'`)).toBe("&lt;img src=x onerror=&quot;a&quot;&gt;&#39;");
    expect(shortId("i-0123456789abcdef0")).toBe("i-…bcdef0");
    expect(shortId("ami-0a1b2c3d4e5f60718")).toBe("ami-…f60718");
    expect(shortId("i-12345678")).toBe("i-12345678");
  });
});
