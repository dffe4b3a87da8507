/**
 * Checks the stand-in against GitHub's OpenAPI description (openapiSubset.json, extracted from
 * @octokit/openapi by extractOpenapi.ts): finds the operation of a request, validates its path
 * and query parameters and its JSON body, validates every response the stand-in gives, and
 * validates the ping and push payloads it delivers (the description's x-webhooks).
 *
 * The description is OpenAPI 3.0: schemas are compiled with ajv in strict mode (an unknown keyword
 * fails loudly rather than being ignored), with ajv's OpenAPI `nullable` support, the annotation
 * keywords the description uses, and ajv-formats for uri, date-time, email, uri-template. One
 * reading is added: a `format: uri` string whose default is "" accepts "" (its own default).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

type Schema = { [key: string]: unknown };

interface Parameter {
    name: string;
    in: "path" | "query" | "header" | "cookie";
    required?: boolean;
    schema: Schema;
}

interface MediaType {
    schema?: Schema;
    examples?: Record<string, { value?: unknown; $ref?: string }>;
}

interface RawOperation {
    operationId: string;
    externalDocs?: { url: string };
    parameters?: Array<Parameter | { $ref: string }>;
    requestBody?: { required?: boolean; content: Record<string, MediaType> };
    responses: Record<string, { $ref?: string; content?: Record<string, MediaType> }>;
}

interface Subset {
    paths: Record<string, Record<string, RawOperation>>;
    "x-webhooks": Record<string, { post: RawOperation }>;
    components: {
        schemas: Record<string, Schema>;
        parameters: Record<string, Parameter>;
        responses: Record<string, { content?: Record<string, MediaType> }>;
        examples: Record<string, { value: unknown }>;
    };
}

// A JSON file read at run time (not imported) so TypeScript does not infer a type from 130 kB of
// JSON; its shape is the OpenAPI 3.0 structure above, checked by the tests that compile it all.
export const subset = JSON.parse(fs.readFileSync(path.join(__dirname, "openapiSubset.json"), "utf8")) as Subset;

const schemaBase = "https://openapi-subset.invalid/components/schemas/";

/**
 * OpenAPI 3.0 schema -> what ajv compiles: component references become absolute ids registered
 * below, and `nullable` without a `type` (ajv rejects it; GitHub's description uses it with a
 * oneOf) becomes an explicit "or null".
 */
function forAjv(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(forAjv);
    if (typeof node !== "object" || node === null) return node;
    const out: Schema = {};
    for (const [key, value] of Object.entries(node)) {
        out[key] = key === "$ref" && typeof value === "string" && value.startsWith("#/components/schemas/") ? schemaBase + value.slice("#/components/schemas/".length) : forAjv(value);
    }
    if ("nullable" in out && !("type" in out)) {
        const { nullable, ...rest } = out;
        return nullable === true ? { anyOf: [rest, { type: "null" }] } : rest;
    }
    // A URL whose documented default is "" (deployment-status's target_url, log_url,
    // environment_url): GitHub answers "" when none was set, which `format: uri` alone refuses.
    if (out.format === "uri" && out.default === "") return { anyOf: [out, { const: "" }] };
    return out;
}

// strictTypes off: the description puts object keywords on some string schemas (hook-delivery's
// response.payload has additionalProperties), which JSON Schema ignores and so does ajv then.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
for (const keyword of ["example", "x-github-breaking-changes"]) ajv.addKeyword(keyword);
addFormats(ajv);
for (const [name, schema] of Object.entries(subset.components.schemas)) ajv.addSchema(forAjv(schema) as Schema, schemaBase + name);

const compile = (schema: Schema): ValidateFunction => ajv.compile(forAjv(schema) as Schema);

/** An ajv error in words, naming where in the document it is. */
export const describeError = (e: ErrorObject): string => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}${e.keyword === "additionalProperties" ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : ""}`;

const resolveRef = <T>(section: Record<string, T>, ref: string): T => {
    const name = ref.split("/").pop() as string;
    const found = section[name];
    if (found === undefined) throw new Error(`unresolved ${ref} in openapiSubset.json`);
    return found;
};

export interface RequestProblems {
    /** A path parameter does not fit its schema (GitHub answers 404: no such resource). */
    path: string[];
    query: string[];
    body: string[];
}

export interface Operation {
    operationId: string;
    method: string;
    template: string;
    documentationUrl: string;
    /** Whether the description documents this status for the operation. */
    documents(status: number): boolean;
    validateRequest(params: Record<string, string>, query: URLSearchParams, body: unknown): RequestProblems;
    validateResponse(status: number, body: unknown): string[];
    /** The description's example of a response body, if it has one. */
    example(status: number): unknown;
}

// Error statuses GitHub gives on any endpoint, whether or not the description lists them there.
const genericErrorSchemas: Record<number, string> = { 400: "basic-error", 401: "basic-error", 403: "basic-error", 404: "basic-error", 422: "validation-error" };
const genericErrorValidators = new Map(Object.entries(genericErrorSchemas).map(([status, name]) => [Number(status), ajv.compile({ $ref: schemaBase + name })]));

function coerce(value: string, schema: Schema): unknown {
    if (schema.type === "integer" || schema.type === "number") return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    if (schema.type === "boolean") return value === "true" ? true : value === "false" ? false : value;
    return value;
}

function buildOperation(template: string, method: string, raw: RawOperation): Operation {
    const parameters = (raw.parameters ?? []).map((p) => ("$ref" in p ? resolveRef(subset.components.parameters, p.$ref) : p));
    const parameterValidators = parameters.filter((p) => p.in === "path" || p.in === "query").map((p) => ({ p, validate: compile(p.schema) }));
    const bodySchema = raw.requestBody?.content["application/json"]?.schema;
    const bodyValidator = bodySchema ? compile(bodySchema) : undefined;
    const responses = new Map<number, { validate: ValidateFunction | null; media?: MediaType }>();
    for (const [status, response] of Object.entries(raw.responses)) {
        const resolved = response.$ref ? resolveRef(subset.components.responses, response.$ref) : response;
        const media = resolved.content?.["application/json"];
        responses.set(Number(status), { validate: media?.schema ? compile(media.schema) : null, media });
    }
    return {
        operationId: raw.operationId,
        method: method.toUpperCase(),
        template,
        documentationUrl: raw.externalDocs?.url ?? "https://docs.github.com/rest",
        documents: (status) => responses.has(status),
        validateRequest(params, query, body) {
            const problems: RequestProblems = { path: [], query: [], body: [] };
            for (const { p, validate } of parameterValidators) {
                const value = p.in === "path" ? params[p.name] : (query.get(p.name) ?? undefined);
                const bucket = p.in === "path" ? problems.path : problems.query;
                if (value === undefined) {
                    if (p.required) bucket.push(`${p.in} parameter ${p.name} is required`);
                } else if (!validate(coerce(value, p.schema))) {
                    bucket.push(...(validate.errors ?? []).map((e) => `${p.in} parameter ${p.name} ${e.message ?? "is invalid"}`));
                }
            }
            if (body === undefined) {
                if (raw.requestBody?.required) problems.body.push("a request body is required");
            } else if (!bodyValidator) {
                // No body in the description: GitHub ignores one; so does the stand-in.
            } else if (!bodyValidator(body)) {
                problems.body.push(...(bodyValidator.errors ?? []).map(describeError));
            }
            return problems;
        },
        validateResponse(status, body) {
            const where = `${raw.operationId} ${status}`;
            const documented = responses.get(status);
            if (!documented) {
                const generic = genericErrorValidators.get(status);
                if (!generic) return [`${where}: status not in GitHub's description of the operation`];
                return generic(body) ? [] : (generic.errors ?? []).map((e) => `${where}: ${describeError(e)}`);
            }
            if (!documented.validate) return body === undefined ? [] : [`${where}: the description has no body for this status`];
            if (body === undefined) return [`${where}: a body is required`];
            return documented.validate(body) ? [] : (documented.validate.errors ?? []).map((e) => `${where}: ${describeError(e)}`);
        },
        example(status) {
            const example = responses.get(status)?.media?.examples?.default;
            if (!example) return undefined;
            return example.$ref ? resolveRef(subset.components.examples, example.$ref).value : example.value;
        },
    };
}

export const operations: Operation[] = Object.entries(subset.paths).flatMap(([template, methods]) => Object.entries(methods).map(([method, raw]) => buildOperation(template, method, raw)));

const routes = operations.map((operation) => {
    const names: string[] = [];
    const source = operation.template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
    });
    return { operation, names, pattern: new RegExp(`^${source}$`) };
});

export type Match = { operation: Operation; params: Record<string, string> } | { operation: undefined; pathKnown: boolean };

/** The operation for a method and path; GitHub answers 404 for both an unknown path and method. */
export function matchOperation(method: string, pathname: string): Match {
    let pathKnown = false;
    for (const { operation, names, pattern } of routes) {
        const m = pattern.exec(pathname);
        if (!m) continue;
        pathKnown = true;
        if (operation.method !== method.toUpperCase()) continue;
        let params: Record<string, string>;
        try {
            params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(m[i + 1])]));
        } catch {
            continue;
        }
        return { operation, params };
    }
    return { operation: undefined, pathKnown };
}

const webhookValidators = new Map(
    Object.entries(subset["x-webhooks"]).map(([event, { post }]) => {
        const headers = (post.parameters ?? []).filter((p): p is Parameter => !("$ref" in p) && p.in === "header").map((p) => p.name);
        const schema = post.requestBody?.content["application/json"]?.schema;
        return [event, { headers, validate: schema ? compile(schema) : undefined }];
    }),
);

/** The webhook events whose payloads the description defines (in the subset). */
export const describedWebhookEvents = [...webhookValidators.keys()];

/**
 * Checks a payload and the request headers the stand-in is about to deliver against the
 * description of that webhook event. Events outside the subset are not checked; signature headers
 * are expected only when the hook has a secret.
 */
export function validateWebhook(event: string, payload: unknown, headers: Record<string, string>, signed: boolean): string[] {
    const described = webhookValidators.get(event);
    if (!described) return [];
    const sent = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
    const expected = described.headers.filter((h) => signed || !/^x-hub-signature/i.test(h));
    const problems = expected.filter((h) => !sent.has(h.toLowerCase())).map((h) => `webhook ${event}: header ${h} missing`);
    if (described.validate && !described.validate(payload)) problems.push(...(described.validate.errors ?? []).map((e) => `webhook ${event}: ${describeError(e)}`));
    return problems;
}

/** An error answer to a request that matched no operation: GitHub's generic error shapes. */
export function validateGenericError(status: number, body: unknown): string[] {
    const validate = genericErrorValidators.get(status);
    if (!validate) return [`status ${status}: not an error status GitHub gives outside an operation`];
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${status}: ${describeError(e)}`);
}
