/** Thin wrappers over @kubernetes/client-node: kubeconfig, calls with deadlines and a rate limit, reviews, list+watch. */
export { K8sError, type K8sErrorCode } from './errors.js';
export { loadKubeConfig, SERVICE_ACCOUNT_DIR, type KubeConfigSource } from './kubeconfig.js';
export { TokenBucketRateLimiter, type RateLimiterConfig } from './rate-limiter.js';
export { K8sClient, type K8sClientConfig, type CallOptions } from './k8s-client.js';
export { createTokenReview, createSelfSubjectAccessReview } from './reviews.js';
export { getJson } from './raw-request.js';
export { openWatchStream, type WatchEvent, type WatchStream, type WatchStreamConfig } from './watch-stream.js';
export { ListWatcher, type ListWatcherConfig, type ListWatchEvent, type KubeObject } from './list-watcher.js';
export { createPodWatcher, podsPath, type PodObject, type PodWatchConfig } from './pods.js';
