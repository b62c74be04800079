/**
 * Where the daemon's sockets live and who may use them: the runtime directory (owned by the daemon's user,
 * writable by it alone, checked like sshd's StrictModes), one lock per socket path so that a second daemon
 * on the same paths is refused while a dead one's leftovers are reclaimed, and the modes and groups given to
 * the sockets after they are bound.
 */
package io.vnicd.vmm.runtime;
