/** The local cloud's fixed facts, in a module of their own so that anything may import them. */
export const LOCAL_ACCOUNT_ID = "123456789012";
/** The port LocalStack made familiar. */
export const DEFAULT_LOCAL_PORT = 4566;
/** The local cloud's own region (startLocalCloud's default). */
export const LOCAL_REGION = "us-east-1";
