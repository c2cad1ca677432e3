"""pymesos (a v1 HTTP scheduler nobody here wrote) subscribes to our master.

Usage: pymesos_subscribe.py HOST:PORT

Prints `REGISTERED <framework id> <master version>` once the SUBSCRIBED event
arrives, then stops the driver without failover, which tears the framework
down (a TEARDOWN call). Exits 0 on success, 1 on an error callback or a
timeout.
"""

import sys
import threading

from pymesos import MesosSchedulerDriver, Scheduler


class Oracle(Scheduler):
    def __init__(self):
        self.ok = False

    def registered(self, driver, framework_id, master_info):
        print("REGISTERED", framework_id["value"], master_info.get("version", ""), flush=True)
        self.ok = True
        driver.stop()

    def error(self, driver, message):
        print("ERROR", message, flush=True)
        driver.stop()


def main():
    scheduler = Oracle()
    framework = {"user": "root", "name": "pymesos-oracle", "failover_timeout": 0.0}
    driver = MesosSchedulerDriver(scheduler, framework, sys.argv[1], use_addict=True)
    timer = threading.Timer(30.0, driver.stop)
    timer.start()
    driver.run()
    timer.cancel()
    sys.exit(0 if scheduler.ok else 1)


if __name__ == "__main__":
    main()
