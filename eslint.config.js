import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "data/", "coverage/", "bench/results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": ["error", { selector: "TSEnumDeclaration", message: "enums are not erasable; use a const object or union" }],
    },
  },
  {
    // Rooms: shared/ never imports from the process folders; api/ and workers/ never import each other.
    files: ["shared/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["**/api/**", "**/workers/**", "**/scheduler/**"] }] },
  },
  {
    files: ["api/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["**/workers/**", "**/scheduler/**"] }] },
  },
  {
    files: ["workers/**/*.ts", "scheduler/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: ["**/api/**"] }] },
  },
);
