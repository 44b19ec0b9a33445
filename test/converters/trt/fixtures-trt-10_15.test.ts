import { describeFixturesForTarget } from './fixture-equivalence';

// Every fixture × cache kind, lowered for trt@10.15 (split per target so jest can run targets in parallel).
describeFixturesForTarget('trt@10.15');
