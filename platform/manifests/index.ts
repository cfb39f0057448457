/**
 * sluice manifests — one typed reader per Kubernetes kind the project writes, used by the local platform
 * (Knative Services), the local broker (Broker, Trigger, RabbitmqBrokerConfig, RabbitmqSource, PingSource) and the
 * deploy check (every object of a rendered overlay). See docs/ARCHITECTURE.md, "Manifests".
 *
 * ```ts
 * import { loadManifestDir, findReplyLoops } from '../../platform/manifests/index.ts';
 * const set = await loadManifestDir('eventing/manifests');   // ManifestError lists every problem, by file and field
 * set.triggers[0].delivery?.backoffDelayMs                    // typed, frozen, defaults applied as upstream does
 * ```
 *
 * Imports only npm packages and the runtime's public index. Only this file is imported from outside.
 */
export {
  BROKER_CLASS,
  BROKER_CLASS_ANNOTATION,
  type Broker,
  type BrokerConfigRef,
  type ClusterReference,
  QUEUE_TYPE,
  type QueueType,
  type RabbitmqBrokerConfig,
  STOCK_BROKER_DELIVERY,
} from './broker.ts';
export { extractCrdSchema } from './crd-schema.ts';
export {
  CRD_RELEASES,
  CrdDownloadError,
  type CrdLocatorOptions,
  DEFAULT_CRD_DIR,
  findCrd,
  readVersions,
} from './crd-sources.ts';
export {
  BACKOFF_POLICY,
  type BackoffPolicy,
  DELIVERY_FORMAT,
  type DeliveryFormat,
  type DeliverySpec,
  type Destination,
  type KReference,
} from './delivery.ts';
export {
  at,
  groupOf,
  isRecord,
  type KubeObject,
  type ManifestDocument,
  ManifestError,
  type ManifestText,
  parseDocuments,
  readManifestFiles,
} from './documents.ts';
export { DurationError, type IsoDuration, parseGoDuration, parseIsoDuration } from './duration.ts';
export {
  AUTOSCALING_ANNOTATION,
  type Container,
  type EnvFrom,
  type EnvVar,
  type KnativeService,
  SERVICE_API_VERSION,
  SERVING_DEFAULTS,
  VISIBILITY_LABEL,
} from './knative-service.ts';
export type { ObjectMeta } from './object-reader.ts';
export { quantity } from './quantity.ts';
export {
  collectManifests,
  KIND,
  loadManifestDir,
  loadManifests,
  type ManifestSet,
  type ReadOptions,
  readManifests,
  schemasFor,
} from './read-manifests.ts';
export {
  describeReplyLoop,
  findReplyLoops,
  REPLY_SOURCE_PREFIX,
  type ReplyLoop,
  type ReplyTypes,
  replyTypesFromFolders,
} from './reply-loops.ts';
export { KEDA_DEFAULTS, type ScaledObject, type ScaleTarget, type ScaleTrigger } from './scaled-object.ts';
export { type KindRef, loadSchemas, type SchemaOptions, type Schemas } from './schemas.ts';
export { cronProblem, PING_SOURCE, type PingSource, type RabbitmqSource } from './sources.ts';
export { PARALLELISM_ANNOTATION, type Trigger } from './trigger.ts';
