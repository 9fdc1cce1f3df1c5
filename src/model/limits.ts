// Limits of the decoders, in a module of their own so that the option checks (engine/options.ts) and the public
// facade read them without loading the search code and its kernels.

/** Widest beam the engines decode (the top-k kernel returns at most 2 x beam = 16 candidates per row). */
export const MAX_BEAM = 8;
