/**
 * Multi-level flow classification (US7848331): ordered flow tables whose entries send a frame to a target
 * ring or on to a sub-table, compiled from rule specs into tuple-space hash tables and swapped atomically.
 */
package io.vnicd.devmodel.classify;
