// unit tests. Node 24 strips TypeScript types natively, so ava loads .ts files as they are.
export default {
  files: ["test/unit/**/*.test.ts"],
  extensions: ["ts"],
  timeout: "60s",
  failWithoutAssertions: true,
};
