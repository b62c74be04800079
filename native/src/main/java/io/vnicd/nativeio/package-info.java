/**
 * The one place where vnicd calls into the C library through java.lang.foreign.
 * Every failing call becomes a {@link io.vnicd.nativeio.NativeException} naming the call and errno.
 */
package io.vnicd.nativeio;
