package dev.patchwork.cli;

import dev.patchwork.tensor.Simd;
import picocli.CommandLine.Command;

/** Prints what the kernels will run on: JVM, vector species, threads, memory. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the JVM, vector species, thread count and memory Patchwork will use.")
final class InfoCommand implements Runnable {
    @Override
    public void run() {
        Runtime rt = Runtime.getRuntime();
        System.out.println("java: " + System.getProperty("java.vm.name") + " " + Runtime.version());
        System.out.println("os: " + System.getProperty("os.name") + " " + System.getProperty("os.arch")
                + ", " + rt.availableProcessors() + " processors");
        System.out.println(Simd.describe());
        System.out.printf("max heap: %.1f GiB%n", rt.maxMemory() / (double) (1L << 30));
    }
}
