import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type LocalCloud, type LocalCloudOptions, startLocalCloud } from "../../local/cloud.js";

const run = promisify(execFile);

/** A local cloud on free ports for one test file; stop it in afterAll. */
export async function startTestCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  return startLocalCloud({ port: 0, ...options });
}

/** SDK v3 client configuration that goes through the gateway, as Phoenix's own code does. */
export function clientConfig(cloud: Pick<LocalCloud, "endpoint">, maxAttempts = 3) {
  return {
    endpoint: cloud.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts,
  };
}

/** The AWS CLI as an independent client of the local cloud. Returns parsed JSON output. */
export async function awsCli(cloud: Pick<LocalCloud, "endpoint">, args: string[]): Promise<unknown> {
  const { stdout } = await run(
    "aws",
    ["--endpoint-url", cloud.endpoint, "--region", "us-east-1", "--output", "json", ...args],
    {
      env: { ...process.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_PAGER: "" },
    },
  );
  return stdout.trim() ? JSON.parse(stdout) : {};
}

/**
 * The AWS CLI with the credentials given (an assumed role's, say): exit code and output, never a
 * throw, so a test can look at a refusal.
 */
export async function awsCliAs(
  cloud: Pick<LocalCloud, "endpoint">,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout } = await run(
      "aws",
      ["--endpoint-url", cloud.endpoint, "--region", "us-east-1", "--output", "json", ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
          AWS_PAGER: "",
        },
      },
    );
    return { code: 0, stdout, stderr: "" };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A CloudWatch alarm (moto's), made and set as an operator would, with the AWS CLI. */
export async function putAlarm(cloud: Pick<LocalCloud, "endpoint">, name: string): Promise<void> {
  await awsCli(cloud, [
    "cloudwatch",
    "put-metric-alarm",
    "--alarm-name",
    name,
    "--namespace",
    "Phoenix/Test",
    "--metric-name",
    name,
    "--statistic",
    "Sum",
    "--period",
    "60",
    "--evaluation-periods",
    "1",
    "--threshold",
    "1",
    "--comparison-operator",
    "GreaterThanOrEqualToThreshold",
  ]);
  await setAlarmState(cloud, name, "OK");
}

export async function setAlarmState(
  cloud: Pick<LocalCloud, "endpoint">,
  name: string,
  state: "OK" | "ALARM",
): Promise<void> {
  await awsCli(cloud, [
    "cloudwatch",
    "set-alarm-state",
    "--alarm-name",
    name,
    "--state-value",
    state,
    "--state-reason",
    "set by the test",
  ]);
}
