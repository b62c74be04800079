package io.vnicd.tests.page;

import io.vnicd.testkit.Peers;
import io.vnicd.tests.drill.Wire;
import io.vnicd.tests.peers.Testpmd;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;


/**
 * The live topology page ({@code --http}, {@code /}) in a real headless Chromium driven by Selenium: it lists the
 * PF's VFs and its uplink's NICs; a VF's rate moves while testpmd sends through it and falls back when it stops;
 * a NIC whose interface is deleted turns failed, and the failover shows in the event list — all without reloading
 * the page (server-sent events).
 */
@Tag("slow")
class TopologyPageTest {
    private static final Duration LIVE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private static VnicdConfig.VfConfig vf(Path dir, String name) {
        return new VnicdConfig.VfConfig(name, dir.resolve(name + ".sock").toString(), "server", 1, null);
    }

    private static WebDriver chromium(Path dir) {
        Path browser = Peers.executable("chromium", "run scripts/setup (Debian package chromium)");
        Path driver = Peers.executable("chromedriver", "run scripts/setup (Debian package chromium-driver)");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(browser.toFile());
        // root in a container-like machine: no sandbox; /dev/shm may be small
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--user-data-dir=" + dir.resolve("chromium"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile())
                .usingAnyFreePort().withLogFile(dir.resolve("chromedriver.log").toFile()).build();
        return new ChromeDriver(service, options);
    }

    private static <T> T await(WebDriver page, String what, Function<WebDriver, T> condition) {
        // the page redraws itself on every push: an element found a moment ago may be gone, so look again
        return new WebDriverWait(page, LIVE, Duration.ofMillis(100)).withMessage(what)
                .ignoring(StaleElementReferenceException.class).until(condition);
    }

    private static double rate(WebDriver page, String vfRow, String cell) {
        List<WebElement> cells = page.findElements(By.cssSelector("#" + vfRow + " ." + cell));
        return cells.isEmpty() ? -1 : Double.parseDouble(cells.getFirst().getAttribute("data-rate"));
    }

    @Test
    @Timeout(240)
    void shouldShowVfsRatesAndAFailedUplinkLive() throws Exception {
        try (Wire wire = new Wire("10.79.0.1/24")) {
            String active = wire.pnic(0);
            String standby = wire.pnic(1);
            VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0",
                    List.of(vf(dir, "vf0"), vf(dir, "vf1")), List.of(active, standby), null))).withHttp("127.0.0.1:0");
            try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
                WebDriver page = chromium(dir);
                try {
                    page.get("http://127.0.0.1:" + vnicd.metrics().port() + "/");
                    await(page, "the page goes live", d -> d.findElement(By.id("conn")).getText().equals("live"));
                    await(page, "the page lists both VFs", d -> d.findElements(By.cssSelector("tr.vf")).size() == 2);
                    await(page, "a VF's row names its socket",
                            d -> d.findElement(By.id("vf-pf0-vf0")).getText().contains(dir.resolve("vf0.sock").toString()));
                    await(page, "the active NIC shows active",
                            d -> "active".equals(d.findElement(By.id("nic-pf0-" + active)).getAttribute("data-state")));
                    await(page, "the standby NIC shows standby",
                            d -> "standby".equals(d.findElement(By.id("nic-pf0-" + standby)).getAttribute("data-state")));
                    await(page, "no traffic yet", d -> rate(d, "vf-pf0-vf0", "tx-rate") == 0.0);

                    try (Testpmd testpmd = Testpmd.frontend("vnicd-it-page", List.of(dir.resolve("vf0.sock"),
                            dir.resolve("vf1.sock")), 1, false, dir.resolve("testpmd.log"))) {
                        await(page, "the page shows vf0's frontend connected",
                                d -> d.findElement(By.id("vf-pf0-vf0")).getText().contains("connected"));
                        testpmd.command("start tx_first 16");
                        await(page, "vf0's TX rate moves while testpmd sends",
                                d -> rate(d, "vf-pf0-vf0", "tx-rate") > 1000);
                        await(page, "vf1's RX rate moves while testpmd sends",
                                d -> rate(d, "vf-pf0-vf1", "rx-rate") > 1000);
                        testpmd.command("stop");
                        await(page, "vf0's TX rate falls back when testpmd stops",
                                d -> rate(d, "vf-pf0-vf0", "tx-rate") == 0);
                    }
                    await(page, "the event list says the frontend went",
                            d -> d.findElement(By.id("events")).getText().contains("pf0/vf0: frontend gone"));

                    wire.net().delete(standby);
                    await(page, "the deleted standby NIC turns failed",
                            d -> "failed".equals(d.findElement(By.id("nic-pf0-" + standby)).getAttribute("data-state")));
                    wire.net().delete(active);
                    await(page, "the deleted active NIC turns failed",
                            d -> "failed".equals(d.findElement(By.id("nic-pf0-" + active)).getAttribute("data-state")));
                    await(page, "the event list has the standby NIC failing and the failover",
                            d -> d.findElement(By.id("events")).getText().contains("uplink " + standby + ": standby → failed")
                                    && d.findElement(By.id("events")).getText().contains("failover from " + active));
                } finally {
                    page.quit();
                }
            }
        }
    }
}
