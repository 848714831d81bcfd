import type { EC2Client } from "@aws-sdk/client-ec2";

/**
 * How moto is told which account's state a call acts on. Set from the call's account (the
 * signer's), never passed on from a caller: a role of one account must not act in another by
 * sending a header.
 */
export const MOTO_ACCOUNT_HEADER = "x-moto-account-id";

/**
 * A client whose calls act in `account`'s moto state (moto's account header): how the local cloud
 * itself reads or seeds another account. Without an account, the client's calls go to moto's default.
 */
export function inAccount<C extends { middlewareStack: unknown }>(client: C, account?: string): C {
  if (!account) return client;
  // Every v3 client's stack takes the same build-step middleware; EC2's typing stands for all.
  (client as unknown as EC2Client).middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[MOTO_ACCOUNT_HEADER] = account;
      return next(args);
    },
    { step: "build", name: "motoAccount" },
  );
  return client;
}
