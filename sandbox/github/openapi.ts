import Ajv, { type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import subset from "./hooks-openapi.json";

/**
 * Validates requests to and responses from the stand-in against GitHub's OpenAPI description of
 * the repository-webhook operations (hooks-openapi.json, extracted from @octokit/openapi).
 */
interface Operation {
    operationId: string;
    parameters?: Array<{ name: string; in: string; required?: boolean; schema: object }>;
    requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
    responses: Record<string, { content?: Record<string, { schema: object }> }>;
}

export interface MatchedOperation {
    operationId: string;
    params: Record<string, string>;
    validateRequest(query: URLSearchParams, body: unknown): string[];
    validateResponse(status: number, body: unknown): string[];
}

// OpenAPI 3.0 schemas: `nullable`, `example` and friends are not JSON Schema keywords.
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);

const describe = (validate: ValidateFunction) => (validate.errors ?? []).map((e) => `${e.instancePath || "(body)"} ${e.message ?? "is invalid"}`);

interface CompiledOperation {
    method: string;
    pattern: RegExp;
    names: string[];
    operation: Operation;
    body?: ValidateFunction;
    responses: Map<string, ValidateFunction | null>;
}

const compiled: CompiledOperation[] = [];
for (const [template, methods] of Object.entries(subset.paths as Record<string, Record<string, Operation>>)) {
    const names: string[] = [];
    const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, (_m, name: string) => (names.push(name), "([^/]+)"))}$`);
    for (const [method, operation] of Object.entries(methods)) {
        if (!operation.operationId) continue;
        const bodySchema = operation.requestBody?.content["application/json"]?.schema;
        const responses = new Map<string, ValidateFunction | null>();
        for (const [status, response] of Object.entries(operation.responses)) {
            const schema = response.content?.["application/json"]?.schema;
            responses.set(status, schema ? ajv.compile(schema) : null);
        }
        compiled.push({ method: method.toUpperCase(), pattern, names, operation, body: bodySchema ? ajv.compile(bodySchema) : undefined, responses });
    }
}

export const operationIds = compiled.map((c) => c.operation.operationId);

export function matchOperation(method: string, pathname: string): MatchedOperation | undefined {
    for (const c of compiled) {
        const m = c.method === method ? c.pattern.exec(pathname) : null;
        if (!m) continue;
        const params = Object.fromEntries(c.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
        return {
            operationId: c.operation.operationId,
            params,
            validateRequest(query, body) {
                const problems: string[] = [];
                for (const p of c.operation.parameters ?? []) {
                    const value = p.in === "path" ? params[p.name] : p.in === "query" ? query.get(p.name) : undefined;
                    if (p.in !== "path" && p.in !== "query") continue;
                    if (value === undefined || value === null) {
                        if (p.required) problems.push(`missing ${p.in} parameter ${p.name}`);
                        continue;
                    }
                    const schema = p.schema as { type?: string };
                    const typed = schema.type === "integer" || schema.type === "number" ? Number(value) : schema.type === "boolean" ? value === "true" : value;
                    const validate = ajv.compile(p.schema);
                    if (!validate(typed)) problems.push(`${p.in} parameter ${p.name}: ${describe(validate).join(", ")}`);
                }
                if (c.body) {
                    if (body === undefined) {
                        if (c.operation.requestBody?.required) problems.push("a JSON body is required");
                    } else if (!c.body(body)) problems.push(...describe(c.body));
                }
                return problems;
            },
            validateResponse(status, body) {
                const key = String(status);
                if (!c.responses.has(key)) return [`status ${status} is not documented for ${c.operation.operationId}`];
                const validate = c.responses.get(key);
                if (!validate) return body === undefined ? [] : [`status ${status} of ${c.operation.operationId} has no body in the description`];
                return validate(body) ? [] : describe(validate).map((p) => `${c.operation.operationId} ${status}: ${p}`);
            },
        };
    }
    return undefined;
}
