// Shared with the benchmarks (bench/scale-sim counts slots from the replicas' stores).
export { readStoreFile, type FilePoint } from '../../scripts/lib/store-file.js';
