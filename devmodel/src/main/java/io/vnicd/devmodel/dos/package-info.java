/**
 * Denial-of-service containment (US7966401): attack traffic is steered by high-priority classifier entries
 * to a standby target with its own small budget, so it cannot starve the rest of the traffic.
 */
package io.vnicd.devmodel.dos;
