/**
 * The server's schemas of the request bodies (zod): what `protocol.ts` describes as types, with
 * the checks the server applies.
 *
 * @module
 */
import { z } from "zod";
import {
  DETERMINISM_MODES,
  type ExecuteCodeRequest,
  type ExecuteCodeStepRequest,
  LANGUAGES,
  MAX_TOOL_NAME_LENGTH,
  moduleNameProblem,
  type StepToolError,
  type ToolResultRequest,
} from "../protocol.ts";

// Tool names are free-form in the reference; we only refuse names that cannot be a module
// export or an attribute name at all: empty, too long, or holding control characters.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Schema of one tool name. */
export const ToolName: z.ZodType<string> = z.string().min(1).max(MAX_TOOL_NAME_LENGTH).refine(
  (name) => !CONTROL.test(name) && name.isWellFormed(),
  "must not contain control characters or lone surrogates",
);

const Modules = z.record(z.string(), z.string()).superRefine((modules, context) => {
  for (const name of Object.keys(modules)) {
    const problem = moduleNameProblem(name);
    if (problem) context.addIssue({ code: "custom", message: problem });
  }
});

const ToolNames = z.array(ToolName).refine(
  (names) => new Set(names).size === names.length,
  "must not contain duplicates",
);

/** Schema of {@linkcode ExecuteCodeRequest}. */
export const ExecuteCodeRequestSchema: z.ZodType<ExecuteCodeRequest> = z.object({
  code: z.string(),
  tool_names: ToolNames,
  language: z.enum(LANGUAGES).optional(),
  stream_output: z.boolean().optional(),
  return_value: z.boolean().optional(),
  modules: Modules.optional(),
  session: z.string().max(132).optional(),
});

/** Schema of {@linkcode ToolResultRequest}. */
export const ToolResultRequestSchema: z.ZodType<ToolResultRequest> = z.object({
  execution_id: z.string(),
  tool_call_id: z.string(),
  result: z.unknown().optional(),
  error: z.string().optional(),
}).refine((body) => "result" in body !== (body.error !== undefined), {
  message: "exactly one of `result` and `error` is required",
});

const StepToolErrorSchema: z.ZodType<StepToolError> = z.object({
  index: z.number().int().nonnegative(),
  message: z.string(),
});

/** Schema of {@linkcode ExecuteCodeStepRequest}. */
export const ExecuteCodeStepRequestSchema: z.ZodType<ExecuteCodeStepRequest> = z.object({
  code: z.string(),
  tool_names: ToolNames,
  state: z.string().nullable().optional(),
  tool_results: z.array(z.unknown()).nullable().optional(),
  determinism: z.enum(DETERMINISM_MODES).optional(),
  modules: Modules.optional(),
  language: z.enum(LANGUAGES).optional(),
  tool_errors: z.array(StepToolErrorSchema).optional(),
  return_value: z.boolean().optional(),
  session: z.string().max(132).optional(),
  session_state: z.string().optional(),
});
