import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { CallLog } from "./calllog.js";
import type { FaultInjector } from "./faults.js";
import { forwardToMoto } from "./forward.js";
import { refusal } from "./guard.js";
import { type AwsRequest, decodeRequest } from "./request.js";
import { type AwsResponse, awsError } from "./response.js";

/**
 * A local service model that answers some calls itself instead of moto (e.g. instance refresh).
 * It sees only calls in the local cloud's own account unless it says `everyAccount`: the local
 * models keep one account's state (another account is moto's alone, see local/README.md).
 */
export interface ServiceHandler {
  readonly name: string;
  readonly everyAccount?: boolean;
  handles(request: AwsRequest): boolean;
  handle(request: AwsRequest): Promise<AwsResponse>;
}

/**
 * Decides whether a call may be served before anything serves it (IAM, local/iam): undefined lets
 * it through, a response refuses it (in the caller's protocol, e.g. UnauthorizedOperation).
 */
export type RequestAuthorizer = (request: AwsRequest) => Promise<AwsResponse | undefined>;

/**
 * Sees every successful call after it was served (e.g. to emit the events AWS would emit); in the
 * local cloud's own account only, unless it says `everyAccount`.
 */
export type ResponseObserver = ((request: AwsRequest, response: { status: number; body: Buffer }) => void) & {
  everyAccount?: boolean;
};

/**
 * Non-AWS routes under /_phoenix/ (health, faults, dashboard data), by exact path; a `*` segment
 * matches any one segment (the instance-credentials route of local/iam).
 */
export type ControlRoute = (
  request: IncomingMessage,
  body: Buffer,
) => Promise<{ status: number; body: unknown; contentType?: string }>;

export interface GatewayOptions {
  host: string;
  port: number;
  motoUrl: string;
  region: string;
  /** The local cloud's own account: where its administrator's credentials and its models act. */
  accountId: string;
  /** The account of the role session that signed a call (local/iam); undefined for any other signer. */
  accountOf?: (request: AwsRequest) => string | undefined;
  handlers: ServiceHandler[];
  observers: ResponseObserver[];
  /** Asked in turn before a call is served; the first refusal answers it. */
  authorizers?: RequestAuthorizer[];
  faults: FaultInjector;
  callLog: CallLog;
  control: Record<string, ControlRoute>;
}

export class PortInUseError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `port ${port} on ${host} is already in use: another local cloud may be running ` +
        `(curl http://${host}:${port}/_phoenix/health), or choose another with --port`,
    );
    this.name = "PortInUseError";
  }
}

export class Gateway {
  private server?: Server;
  constructor(private readonly options: GatewayOptions) {}

  async listen(): Promise<{ host: string; port: number; url: string }> {
    const server = createServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`phoenix gateway error: ${(error as Error).message}`);
      });
    });
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          error.code === "EADDRINUSE" ? new PortInUseError(this.options.host, this.options.port) : error,
        ),
      );
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return { host: this.options.host, port, url: `http://${this.options.host}:${port}` };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const body = await readBody(req);
    const url = req.url ?? "/";
    const method = req.method ?? "GET";
    const refused = refusal(method, url, req.headers);
    if (refused) return this.refuse(method, url, req.headers, body, res, refused);
    if (url.startsWith("/_phoenix/")) return this.serveControl(req, res, body);

    const request = decodeRequest(method, url, req.headers, body, this.options.region);
    request.account = this.options.accountOf?.(request) ?? this.options.accountId;
    const own = request.account === this.options.accountId;
    for (const authorize of this.options.authorizers ?? []) {
      const refusedByPolicy = await authorize(request);
      if (refusedByPolicy) {
        this.options.callLog.add({
          service: request.service,
          action: request.action,
          status: refusedByPolicy.status,
          servedBy: "iam",
        });
        return send(res, refusedByPolicy);
      }
    }
    const decision = this.options.faults.decide(request);
    if (decision.delayMs > 0) await new Promise((r) => setTimeout(r, decision.delayMs));
    if (decision.error) {
      this.options.callLog.add({
        service: request.service,
        action: request.action,
        status: decision.error.status,
        fault: decision.kind,
        servedBy: "faults",
      });
      return send(res, decision.error);
    }

    const handler = this.options.handlers.find((h) => (own || h.everyAccount) && h.handles(request));
    let response: AwsResponse;
    try {
      response = handler ? await handler.handle(request) : await forwardToMoto(this.options.motoUrl, request);
    } catch (error) {
      response = awsError(
        request.protocol,
        request.service,
        500,
        "InternalFailure",
        `local cloud failed to serve ${request.service}:${request.action}: ${(error as Error).message}`,
      );
    }
    this.options.callLog.add({
      service: request.service,
      action: request.action,
      status: response.status,
      servedBy: handler?.name ?? "moto",
      ms: Math.round(performance.now() - arrived),
    });
    send(res, response);
    if (response.status < 300) {
      const buffer = Buffer.isBuffer(response.body) ? response.body : Buffer.from(response.body);
      for (const observe of this.options.observers) {
        if (!own && !observe.everyAccount) continue;
        try {
          observe(request, { status: response.status, body: buffer });
        } catch {
          // An observer's failure must never turn a served call into a failed one.
        }
      }
    }
  }

  /** 403 in the caller's protocol (JSON for the control routes), recorded in the call log. */
  private refuse(
    method: string,
    url: string,
    headers: IncomingMessage["headers"],
    body: Buffer,
    res: ServerResponse,
    message: string,
  ): void {
    if (url.startsWith("/_phoenix/")) {
      res.writeHead(403, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ error: `phoenix local cloud: ${message}` }));
      return;
    }
    const request = decodeRequest(method, url, headers, body, this.options.region);
    this.options.callLog.add({
      service: request.service,
      action: request.action,
      status: 403,
      servedBy: "gateway-guard",
    });
    send(
      res,
      awsError(request.protocol, request.service, 403, "AccessDenied", `phoenix local cloud: ${message}`),
    );
  }

  private patternRoute(path: string): ControlRoute | undefined {
    const key = Object.keys(this.options.control).find((k) => k.includes("*") && matchesPattern(k, path));
    return key ? this.options.control[key] : undefined;
  }

  private async serveControl(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const path = new URL(req.url ?? "/", "http://gateway").pathname;
    const route = this.options.control[path] ?? this.patternRoute(path);
    if (!route) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: `no such local cloud route: ${path}`,
          routes: Object.keys(this.options.control),
        }),
      );
      return;
    }
    try {
      const result = await route(req, body);
      const contentType = result.contentType ?? "application/json";
      res.writeHead(result.status, { "content-type": contentType, "cache-control": "no-store" });
      res.end(contentType === "application/json" ? JSON.stringify(result.body) : String(result.body));
    } catch (error) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: (error as Error).message }));
    }
  }
}

function matchesPattern(pattern: string, path: string): boolean {
  const want = pattern.split("/");
  const have = path.split("/");
  return want.length === have.length && want.every((segment, i) => segment === "*" || segment === have[i]);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, response: AwsResponse): void {
  const body = Buffer.isBuffer(response.body) ? response.body : Buffer.from(response.body);
  res.writeHead(response.status, { ...response.headers, "content-length": String(body.length) });
  res.end(body);
}
