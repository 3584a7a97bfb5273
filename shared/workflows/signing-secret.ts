import { createHmac } from "node:crypto";

/**
 * The key a tenant's workflow `http` steps are signed with: derived from `WEBHOOK_SECRET` and the
 * tenant, never `WEBHOOK_SECRET` itself. A step sends a body its definition chose; signed with the
 * callbacks' key, any tenant could have Quarry sign a forged job callback. Each tenant reads its
 * own at `GET /v1/workflows/signing-secret`.
 */
export function workflowSigningSecret(webhookSecret: string, tenantId: string): string {
  const key = Buffer.from(webhookSecret.slice("whsec_".length), "base64");
  return `whsec_${createHmac("sha256", key).update(`quarry/workflow-http-steps/${tenantId}`).digest("base64")}`;
}
