/**
 * Lock-free, allocation-free rings of packed long entries that carry frames between the classifier, receive
 * rings and consumers; their memory may be shared with another process, so every layout is a descriptor class.
 */
package io.vnicd.devmodel.ring;
