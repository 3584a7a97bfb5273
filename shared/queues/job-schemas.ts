/** Moved to the job catalog (shared/jobs/index.ts); kept only until every import points there. */
export { PUBLIC_JOB_NAMES, isJobName, type JobName, type JobData, type JobPayload } from "../jobs/index.ts";
