/**
 * Coverage-guided fuzz targets (Jazzer {@code @FuzzTest}) for what a frontend or guest controls: the vhost-user
 * session's message stream and the split rings in guest memory. {@code mvn test} replays their inputs folders;
 * {@code scripts/fuzz session|ring} fuzzes.
 */
package io.vnicd.virtio.fuzz;
