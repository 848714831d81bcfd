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
