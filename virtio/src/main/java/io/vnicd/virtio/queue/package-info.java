/** Split virtqueues (virtio 1.2 section 2.7): ring layouts, descriptor chains walked with every guest value
 * checked on access, used-ring publication and notification suppression. Knows nothing of vhost-user or net. */
package io.vnicd.virtio.queue;
