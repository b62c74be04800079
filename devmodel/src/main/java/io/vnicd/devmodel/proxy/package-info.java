/**
 * Proxy VNICs (US20110090915): the shared-memory channel that carries frames between two vnicd daemons on one
 * host, built on Chronicle Bytes; each side's switch maps the other's VNICs to a proxy port that uses it.
 */
package io.vnicd.devmodel.proxy;
