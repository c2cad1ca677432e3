"""pymesos's executor driver (a v1 HTTP executor nobody here wrote) runs
one task: it subscribes over /api/v1/executor with the environment the
agent gave it, and for the task it is launched with sends TASK_RUNNING, a
framework message `pymesos-executor-says-hi`, then TASK_FINISHED.
"""

import threading

from pymesos import Executor, MesosExecutorDriver, encode_data


class Oracle(Executor):
    def launchTask(self, driver, task):
        def run():
            driver.sendStatusUpdate(
                {"task_id": task["task_id"], "state": "TASK_RUNNING"})
            driver.sendFrameworkMessage(
                encode_data(b"pymesos-executor-says-hi"))
            driver.sendStatusUpdate(
                {"task_id": task["task_id"], "state": "TASK_FINISHED",
                 "message": "pymesos executor done"})

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    MesosExecutorDriver(Oracle(), use_addict=True).run()
