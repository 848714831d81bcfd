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
    const { audit, notifications } = phoenix();
    return {
      auditTable: audit.name,
      notificationsTopic: notifications.arn,
    };
  },
});
