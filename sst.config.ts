/// <reference path="./.sst/platform/config.d.ts" />

export default $config({
  app(input) {
    return {
      name: "phoenix",
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
      home: "aws",
    };
  },
  async run() {
    // Imported here, not at the top: the SST globals (sst, aws, $app) exist only inside run().
    // PHOENIX_STACK=member: the member stack (stacks/member.ts), a graph of its own.
    if (process.env.PHOENIX_STACK === "member") {
      const { member } = await import("./stacks/member");
      const stack = member();
      return { memberRole: stack.role.arn, quarantineProfile: stack.quarantineProfile.name };
    }
    if (process.env.PHOENIX_STACK !== undefined && process.env.PHOENIX_STACK !== "central")
      throw new Error(
        `PHOENIX_STACK must be "central" (the default) or "member", not "${process.env.PHOENIX_STACK}"`,
      );
    const { phoenix } = await import("./stacks/phoenix");
    const stack = phoenix();
    return {
      auditTable: stack.audit.name,
      stateTable: stack.state.name,
      notificationsTopic: stack.notifications.arn,
      containStateMachine: stack.containStateMachine.arn,
      rolloutStateMachine: stack.rolloutStateMachine.arn,
      findingBuffer: stack.findingBuffer.url,
      imageBuffer: stack.imageBuffer.url,
      quarantineProfile: stack.quarantineProfile.name,
      ...(stack.signingKeyArn ? { signingKeyArn: stack.signingKeyArn } : {}),
    };
  },
});
