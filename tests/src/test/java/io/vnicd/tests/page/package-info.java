/** The live topology page, tested in a real headless Chromium driven by Selenium. */
package io.vnicd.tests.page;
