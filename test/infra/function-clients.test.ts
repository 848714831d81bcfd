import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { usedActionsOfFunction } from "../../build/iam/used-actions.js";
import { type ClientName, lazyClients } from "../../src/aws/clients.js";
import { PHOENIX_FUNCTIONS } from "../../src/catalog.js";
import { ROOT, readRepository } from "./support.js";

// Each Lambda bundles only the SDK clients its entry point names (cold start): the names must be
// exactly the services its code calls, as the IAM derivation finds them. One missing would fail
// in AWS at the first call of that service; one too many would only cost load time.

const CLIENT_OF_SERVICE: Record<string, ClientName> = {
  ec2: "ec2",
  autoscaling: "autoScaling",
  states: "sfn",
  sns: "sns",
  ssm: "ssm",
  iam: "iam",
  kms: "kms",
  events: "events",
  imagebuilder: "imageBuilder",
  dynamodb: "dynamo",
  sts: "sts",
};

function calledServices(name: (typeof PHOENIX_FUNCTIONS)[number]): ClientName[] {
  const { provenance } = usedActionsOfFunction(name, readRepository);
  const direct = Object.entries(provenance)
    .filter(([, from]) => from.some((where) => !where.startsWith("dependent action")))
    .map(([action]) => action.split(":")[0]!);
  return [...new Set(direct.map((service) => CLIENT_OF_SERVICE[service]!))].sort();
}

describe("the AWS clients each function bundles", () => {
  it.each(PHOENIX_FUNCTIONS.map((name) => [name]))(
    "%s names exactly the clients its code calls",
    async (name) => {
      const entry = (await import(pathToFileURL(path.join(ROOT, "functions", `${name}.ts`)).href)) as {
        CLIENTS?: Record<string, unknown>;
      };
      expect(entry.CLIENTS, `functions/${name}.ts exports no CLIENTS`).toBeDefined();
      expect(Object.keys(entry.CLIENTS!).sort()).toEqual(calledServices(name));
    },
  );

  it("refuses a client the function was not built with, naming it", () => {
    const clients = lazyClients({ region: "us-east-1" }, {});
    expect(() => clients.ec2).toThrow(/built without the ec2 AWS client/);
  });

  it("makes a client once, on first use", () => {
    let made = 0;
    const clients = lazyClients(
      { region: "us-east-1" },
      {
        sns: () => {
          made += 1;
          return { marker: made } as never;
        },
      },
    );
    expect(made).toBe(0);
    expect(clients.sns).toBe(clients.sns);
    expect(made).toBe(1);
  });
});
