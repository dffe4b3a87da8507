/**
 * GitHub's REST error answers: a `message`, the `documentation_url` of the operation, the status
 * as a string, and for validation failures a list of `errors` (the description's basic-error and
 * validation-error schemas).
 */
export interface FieldError {
    resource?: string;
    field?: string;
    code: string;
    message?: string;
}

export class ApiError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly errors?: FieldError[],
        /** Overrides the operation's documentation URL (GitHub points 401s at the REST overview). */
        readonly documentationUrl?: string,
    ) {
        super(message);
    }

    body(operationDocs: string): Record<string, unknown> {
        return {
            message: this.message,
            ...(this.errors ? { errors: this.errors } : {}),
            documentation_url: this.documentationUrl ?? operationDocs,
            status: String(this.status),
        };
    }
}

const restDocs = "https://docs.github.com/rest";

export const notFound = () => new ApiError(404, "Not Found");
export const requiresAuthentication = () => new ApiError(401, "Requires authentication", undefined, restDocs);
export const badCredentials = () => new ApiError(401, "Bad credentials", undefined, restDocs);
/** A valid token without the permission the operation needs (a fine-grained token's scope). */
export const resourceNotAccessible = () => new ApiError(403, "Resource not accessible by personal access token");
export const problemsParsingJson = () => new ApiError(400, "Problems parsing JSON");
/** A body that GitHub's JSON schema for the operation refuses. */
export const invalidRequest = (problems: string[]) => new ApiError(422, `Invalid request.\n\n${problems.join("\n")}`);
/** A body that fits the schema but not GitHub's rules for hooks. */
export const validationFailed = (...errors: FieldError[]) => new ApiError(422, "Validation Failed", errors);
