/**
 * The daemon's one counter system: 64-bit counters in off-heap memory, each written by the one data-path thread
 * that owns it and read by any thread (status, metrics) while it runs, grouped in blocks labelled by what they count.
 */
package io.vnicd.devmodel.counter;
