/**
 * A local stand-in for GitHub's repository-webhooks, deployments and environments REST API and its
 * webhook deliveries, for the end-to-end tests and `npm run sandbox` (GitHub itself is not
 * reachable there).
 *
 * Every request is checked against GitHub's OpenAPI description of the operation (openapi.ts):
 * unparsable JSON gets 400, a body or query the schema refuses 422, a path parameter that does not
 * fit (a non-numeric hook id) 404, as GitHub answers. Every response is checked too; one that does
 * not fit is a bug of the stand-in, logged and kept in validationErrors() for tests to assert on.
 * Deliveries follow GitHub's documented behaviour (deliveries.ts, dispatcher.ts).
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { apiHandlers } from "./api";
import { control, controlPrefix, type ApiRequestRecord, type Fault } from "./control";
import type { DeliveryRecord, DeliveryTls } from "./deliveries";
import { DeliveryLog } from "./deliveryLog";
import { DeploymentStore, type Account, type StoredDeployment } from "./deploymentStore";
import { Dispatcher } from "./dispatcher";
import { ApiError, badCredentials, invalidRequest, notFound, problemsParsingJson, requiresAuthentication, resourceNotAccessible } from "./errors";
import { HookStore, type StoredHook } from "./hookStore";
import { matchOperation, validateGenericError, type Operation } from "./openapi";
import type { PushOptions } from "./payloads";
import { Repositories } from "./repositories";

export type { ApiRequestRecord, Fault } from "./control";
export type { DeliveryRecord } from "./deliveries";
export type { StoredHook } from "./hookStore";
export type { StoredDeployment, StoredEnvironment, StoredStatus } from "./deploymentStore";

/** The operations the deployments token may call (a fine-grained token with "Deployments: write"). */
export const deploymentsTokenOperations = ["repos/list-deployments", "repos/create-deployment", "repos/create-deployment-status"];

/** Where the fault switch applies: the deployments, deployment statuses and environments endpoints. */
const faultable = (pathname: string) => /^\/repos\/[^/]+\/[^/]+\/(deployments|environments)(\/|$)/.test(pathname);

export interface GitHubStandinOptions {
    /** Default 127.0.0.1. */
    host?: string;
    /** Default 0: any free port. */
    port?: number;
    /** The token clients must send (Authorization: Bearer <token> or token <token>). */
    token: string;
    /**
     * A second token, allowed only the deployments and deployment statuses operations (what a
     * fine-grained token with "Deployments: read and write" may do); 403 elsewhere, as on GitHub.
     */
    deploymentsToken?: string;
    /** "owner/name" of each repository served. */
    repositories: string[];
    /** One line per API request and per delivery; never bodies or secrets. */
    log?: (line: string) => void;
    /** How long a delivery may take; GitHub's limit, 10 s, unless a test wants it shorter. */
    deliveryTimeoutMs?: number;
    /** CA and name resolution for https:// hooks (the sandbox's ACME certificates). */
    deliveryTls?: DeliveryTls;
}

export interface GitHubStandin {
    /** Base URL of the API, e.g. http://127.0.0.1:34567 (no trailing slash). */
    apiUrl: string;
    close(): Promise<void>;
    /** The repository's hooks with their secrets in the clear (copies). */
    hooks(repo: string): StoredHook[];
    /** Every delivery attempt, oldest first; of one repository if given. */
    deliveries(repo?: string): DeliveryRecord[];
    /** Deletes a hook outside the API, as someone in GitHub's web UI would. */
    deleteHookBehindPulumisBack(repo: string, id: number): void;
    /** A push event to every active hook of the repository subscribed to push (or *). */
    sendPush(repo: string, opts: PushOptions): Promise<DeliveryRecord[]>;
    /** Exactly these bytes to a hook's URL, with GitHub's headers (opts.headers replace them). */
    sendRaw(repo: string, hookId: number, opts: { event: string; body: Buffer | string; headers?: Record<string, string>; signWith?: string | null }): Promise<DeliveryRecord>;
    /** Responses and webhook payloads of the stand-in that did not fit GitHub's description. */
    validationErrors(): string[];
    /** The repository's deployments, newest first, each with its statuses oldest first (copies). */
    deploymentsOf(repo: string): StoredDeployment[];
    /** Every API request so far, oldest first. */
    apiRequests(): ApiRequestRecord[];
    /** Sets the fault of the deployments, statuses and environments endpoints. */
    setFault(fault: Fault): void;
}

interface Answer {
    status: number;
    body?: unknown;
    text?: string;
    headers?: Record<string, string>;
}

function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

const sameToken = (given: Buffer, token: string | undefined) => token !== undefined && given.length === Buffer.byteLength(token) && crypto.timingSafeEqual(given, Buffer.from(token));

/** Which of the stand-in's tokens the request carries. */
function authenticate(header: string | undefined, tokens: { main: string; deployments?: string }): "main" | "deployments" {
    if (!header) throw requiresAuthentication();
    const match = /^(bearer|token)\s+(\S+)$/i.exec(header.trim());
    const given = Buffer.from(match?.[2] ?? "");
    if (match && sameToken(given, tokens.main)) return "main";
    if (match && sameToken(given, tokens.deployments)) return "deployments";
    throw badCredentials();
}

/** The accounts the two tokens belong to (the `creator` of what they make). */
const accounts: Record<"main" | "deployments", Account> = { main: { login: "selfpages-admin", id: 91_000_001 }, deployments: { login: "selfpages-deployer", id: 91_000_002 } };

function parseJson(raw: string): unknown {
    if (raw.trim() === "") return undefined;
    try {
        return JSON.parse(raw) as unknown;
    } catch {
        throw problemsParsingJson();
    }
}

export async function startGitHubStandin(options: GitHubStandinOptions): Promise<GitHubStandin> {
    if (!options.token) throw new Error("the GitHub stand-in needs a token");
    const log = options.log ?? (() => undefined);
    const repositories = new Repositories(options.repositories);
    const store = new HookStore();
    const deliveries = new DeliveryLog();
    const validationErrors: string[] = [];
    const invalid = (problems: string[]) => {
        validationErrors.push(...problems);
        for (const p of problems) log(`stand-in bug, not as GitHub's description says: ${p}`);
    };
    let apiUrl = "";
    const dispatcher = new Dispatcher({ repositories, store, deliveries, apiUrl: () => apiUrl, timeoutMs: options.deliveryTimeoutMs ?? 10_000, tls: options.deliveryTls, onInvalid: invalid, log });
    const deploymentStore = new DeploymentStore((repo, ref) => dispatcher.head(repo, ref));
    const handlers = apiHandlers({ repositories, store, deployments: deploymentStore, dispatcher, apiUrl: () => apiUrl });
    const requests: ApiRequestRecord[] = [];
    let fault: Fault = "none";
    const tokens = { main: options.token, deployments: options.deploymentsToken };

    const sendPush = (repo: string, opts: PushOptions) => dispatcher.push(repo, opts);
    const setFault = (next: Fault) => {
        fault = next;
        log(`fault of the deployments and environments endpoints: ${next}`);
    };
    const deliveriesOf = (repo?: string) => deliveries.all(repo === undefined ? undefined : repositories.get(repo).fullName).map((d) => structuredClone(d));
    const apiRequests = () => requests.map((r) => ({ ...r }));
    const controlTarget = { sendPush, deliveries: deliveriesOf, knows: (r: string) => repositories.find(r) !== undefined, apiRequests, setFault };

    /** A GitHub API request, from the raw request to the checked answer. */
    const api = async (method: string, url: URL, authorization: string | undefined, rawBody: string, record: ApiRequestRecord): Promise<Answer> => {
        const match = matchOperation(method, url.pathname);
        const operation: Operation | undefined = match.operation;
        record.operationId = operation?.operationId;
        try {
            const token = authenticate(authorization, tokens);
            record.token = token;
            if (!match.operation) throw notFound();
            if (token === "deployments" && !deploymentsTokenOperations.includes(match.operation.operationId)) throw resourceNotAccessible();
            const body = parseJson(rawBody);
            const problems = match.operation.validateRequest(match.params, url.searchParams, body);
            if (problems.path.length > 0) throw notFound();
            if (problems.query.length + problems.body.length > 0) throw invalidRequest([...problems.query, ...problems.body]);
            const result = handlers[match.operation.operationId]({ params: match.params, query: url.searchParams, body, url: new URL(url.pathname + url.search, apiUrl), account: accounts[token] });
            invalid(match.operation.validateResponse(result.status, result.body));
            return result;
        } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            const answer = { status: error.status, body: error.body(operation?.documentationUrl ?? "https://docs.github.com/rest") };
            invalid(operation ? operation.validateResponse(answer.status, answer.body) : validateGenericError(answer.status, answer.body));
            return answer;
        }
    };

    const server = http.createServer((req, res) => {
        void (async () => {
            const method = req.method ?? "GET";
            const url = new URL(req.url ?? "/", "http://stand-in");
            let answer: Answer;
            const record: ApiRequestRecord = { at: new Date().toISOString(), method, path: url.pathname, status: 0, token: null };
            try {
                const rawBody = await readBody(req);
                if (url.pathname.startsWith(controlPrefix)) {
                    answer = await control(controlTarget, method, url, rawBody);
                } else {
                    requests.push(record);
                    if (fault !== "none" && faultable(url.pathname)) {
                        record.operationId = matchOperation(method, url.pathname).operation?.operationId;
                        if (fault === "hang") {
                            // Never answered: the client's own time limit, or close(), ends it.
                            log(`${method} ${url.pathname}${url.search} -> (hang fault: no answer)`);
                            return;
                        }
                        answer = { status: 500, body: { message: "Server Error (the stand-in's 500 fault)" } };
                    } else answer = await api(method, url, req.headers.authorization, rawBody, record);
                    record.status = answer.status;
                }
            } catch (error) {
                log(`stand-in bug: ${(error as Error).stack ?? String(error)}`);
                answer = { status: 500, body: { message: "stand-in error", documentation_url: "https://docs.github.com/rest" } };
            }
            log(`${method} ${url.pathname}${url.search} -> ${answer.status}`);
            const headers: Record<string, string> = {
                "X-GitHub-Api-Version-Selected": "2022-11-28",
                "X-GitHub-Media-Type": "github.v3; format=json",
                "X-GitHub-Request-Id": crypto.randomBytes(8).toString("hex").toUpperCase(),
                ...(answer.text !== undefined ? { "Content-Type": "text/plain; charset=utf-8" } : answer.body === undefined ? {} : { "Content-Type": "application/json; charset=utf-8" }),
                ...answer.headers,
            };
            res.writeHead(answer.status, headers);
            res.end(answer.text ?? (answer.body === undefined ? undefined : JSON.stringify(answer.body)));
        })();
    });

    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    const address = server.address() as AddressInfo;
    apiUrl = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
    log(`GitHub stand-in listening on ${apiUrl} for ${repositories.all().map((r) => r.fullName).join(", ")}`);

    const hookOf = (repo: string, id: number) => {
        const hook = store.find(id);
        if (!hook || hook.repo !== repositories.get(repo).fullName) throw new Error(`no hook ${id} on ${repo}`);
        return hook;
    };

    return {
        apiUrl,
        async close() {
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            server.closeAllConnections();
            await Promise.all([closed, dispatcher.close()]);
        },
        hooks: (repo) => store.list(repositories.get(repo)).map((h) => structuredClone(h)),
        deliveries: deliveriesOf,
        deleteHookBehindPulumisBack: (repo, id) => store.delete(repositories.get(repo), hookOf(repo, id).id),
        sendPush,
        sendRaw: (repo, hookId, opts) => dispatcher.raw(hookOf(repo, hookId), opts),
        validationErrors: () => [...validationErrors],
        deploymentsOf: (repo) => deploymentStore.list(repositories.get(repo)).map((d) => structuredClone(d)),
        apiRequests,
        setFault,
    };
}
