import type { JobName } from "../../shared/jobs/index.ts";
import type { Processor } from "../processor.ts";
import { createBackupProcessor, pruneBackupsProcessor, restoreBackupProcessor, scheduleBackupProcessor } from "./backup.processors.ts";
import { deleteCollectionProcessor } from "./delete-collection.processor.ts";
import { deleteDocumentProcessor } from "./delete-document.processor.ts";
import { embedChunksProcessor } from "./embed-chunks.processor.ts";
import { ingestDocumentProcessor } from "./ingest-document.processor.ts";
import { optimizeVectorsProcessor } from "./optimize-vectors.processor.ts";
import { reembedCollectionProcessor } from "./reembed-collection.processor.ts";
import { runWorkflowProcessor, workflowDeadlineProcessor, workflowStepProcessor } from "./workflow.processors.ts";

/** Every job type in the catalog has exactly one processor: a job without one does not compile. */
export const processors = {
  ingest_document: ingestDocumentProcessor,
  delete_document: deleteDocumentProcessor,
  delete_collection: deleteCollectionProcessor,
  reembed_collection: reembedCollectionProcessor,
  embed_chunks: embedChunksProcessor,
  optimize_vectors: optimizeVectorsProcessor,
  create_backup: createBackupProcessor,
  restore_backup: restoreBackupProcessor,
  schedule_backup: scheduleBackupProcessor,
  prune_backups: pruneBackupsProcessor,
  run_workflow: runWorkflowProcessor,
  workflow_step: workflowStepProcessor,
  workflow_deadline: workflowDeadlineProcessor,
} satisfies { [N in JobName]: Processor<N> };
