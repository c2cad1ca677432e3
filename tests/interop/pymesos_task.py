"""pymesos (a v1 HTTP scheduler nobody here wrote) runs a command task.

Usage: pymesos_task.py HOST:PORT [EXECUTOR_COMMAND]

Subscribes over /api/v1/scheduler, accepts the first offer with one task
running `echo pymesos-task` (or, given EXECUTOR_COMMAND, a task for a
custom executor started with that command), acknowledges its updates
(pymesos does so implicitly), prints `UPDATE <state>` for each and
`MESSAGE <data>` for each framework message, and exits 0 once the task is
TASK_FINISHED (1 on any other terminal state, an error, or a timeout).
With a custom executor it also sends the executor the framework message
`hello-executor` once the task is TASK_RUNNING.
"""

import sys
import threading
import uuid

from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR",
            "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}


class Oracle(Scheduler):
    def __init__(self, executor_command=None):
        self.launched = False
        self.ok = False
        self.executor_command = executor_command

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = {
                "task_id": {"value": str(uuid.uuid4())},
                "agent_id": {"value": offer.agent_id.value},
                "name": "pymesos-task",
                "command": {"value": "echo pymesos-task"},
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}},
                ],
            }
            if self.executor_command:
                del task["command"]
                task["executor"] = {
                    "executor_id": {"value": "pymesos-executor"},
                    "name": "pymesos executor",
                    "command": {"value": self.executor_command},
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                    ],
                }
            driver.launchTasks(offer.id, [task])
            print("LAUNCHED", offer.id.value, flush=True)

    def statusUpdate(self, driver, update):
        state = update.state
        print("UPDATE", state, update.get("message", ""), flush=True)
        if state == "TASK_RUNNING" and self.executor_command:
            driver.sendFrameworkMessage(
                {"value": "pymesos-executor"}, update.agent_id,
                encode_data(b"hello-executor"))
            print("SENT hello-executor", flush=True)
        if state in TERMINAL:
            self.ok = state == "TASK_FINISHED"
            driver.stop()

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        print("MESSAGE", decode_data(message).decode(), flush=True)

    def error(self, driver, message):
        print("ERROR", message, flush=True)
        driver.stop()


def main():
    scheduler = Oracle(sys.argv[2] if len(sys.argv) > 2 else None)
    framework = {"user": "root", "name": "pymesos-task-oracle", "failover_timeout": 0.0}
    driver = MesosSchedulerDriver(scheduler, framework, sys.argv[1], use_addict=True)
    timer = threading.Timer(60.0, driver.stop)
    timer.start()
    driver.run()
    timer.cancel()
    sys.exit(0 if scheduler.ok else 1)


if __name__ == "__main__":
    main()
