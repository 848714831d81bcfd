// asl-validator ships no type declarations; this is the part of its API the local cloud uses.
declare module "asl-validator" {
  interface AslValidationError {
    "Error code": string;
    Message: string;
  }
  interface AslValidationResult {
    isValid: boolean;
    errors: AslValidationError[];
    errorsText(separator?: string): string;
  }
  function aslValidator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): AslValidationResult;
  export = aslValidator;
}
