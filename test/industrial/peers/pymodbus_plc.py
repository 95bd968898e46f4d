"""A PLC that is not ours: pymodbus (Debian python3-pymodbus) serving the plant map's units on loopback.

Unit 1 (process PLC) and unit 2 (safety PLC) hold fixed process values: tank_1 at 1.5 m, tank_2 at 0.1 m (below
pump_2's suction limit, so interlock IL-01 refuses starting pump_2), pumps stopped. With `tripped`, the safety PLC
reports a level interlock tripped (its discrete input 0), as a real safety PLC does after a trip.
Usage: pymodbus_plc.py PORT [tripped]
"""
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

logging.basicConfig(level=logging.ERROR)
port = int(sys.argv[1])
tripped = sys.argv[2:3] == ["tripped"]


def block(values):
    return ModbusSequentialDataBlock(0, list(values))


# Input registers of unit 1, in plant map order: pump_1 flow, pressure, vibration, bearing temp, speed; pump_2 the same;
# tank_1 level, tank_2 level; valve_1 position, flow; valve_2 position, flow (raw = value * scale).
INPUT = [0, 0, 1200, 3500, 0, 0, 0, 1100, 3400, 0, 1500, 100, 1000, 0, 1000, 0]
process = ModbusSlaveContext(co=block([0] * 4), di=block([0] * 8), ir=block(INPUT), hr=block([500, 500]), zero_mode=True)
safety = ModbusSlaveContext(co=block([0] * 2), di=block([1 if tripped else 0]), ir=block([0]), hr=block([3000, 300]), zero_mode=True)
# allow_reuse_address: a restarted PLC binds its port again while the old connections are still in TIME_WAIT.
StartTcpServer(context=ModbusServerContext(slaves={1: process, 2: safety}, single=False), address=("127.0.0.1", port), allow_reuse_address=True)
