import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["dist/", "node_modules/", "build/", "**/build/", "bench/results/", "lab/kube-apiserver/"],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ["*.js"],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      // @kubernetes/client-node declares its API models as classes that hold only data; object
      // literals, and copies made by spreading, are how they are meant to be written.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-misused-spread": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The Clock (src/clock/clock.ts) is the agent's one source of time, so that unit tests drive
    // time by hand.
    files: ["src/**/*.ts"],
    ignores: ["src/clock/**"],
    rules: {
      "no-restricted-globals": [
        "error",
        ...["setTimeout", "setInterval", "clearTimeout", "clearInterval"].map((name) => ({
          name,
          message: "Take a Clock (src/clock/clock.ts) and use clock.after, every or clock.sleep.",
        })),
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[object.name='performance'][property.name='now']",
          message: "Take a Clock (src/clock/clock.ts) and use clock.now().",
        },
      ],
      "no-restricted-imports": [
        "error",
        ...["node:timers", "node:timers/promises", "timers", "timers/promises"].map((name) => ({
          name,
          message: "Take a Clock (src/clock/clock.ts) instead.",
        })),
      ],
    },
  },
  {
    files: ["*.js"],
    ...tseslint.configs.disableTypeChecked,
  },
);
