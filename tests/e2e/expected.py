"""What the caller must hear, written out here (not read from the product's prompt book).

Dynamic parts come from the database through the business core and are normalised with
``ivr.normalize`` (amounts as 元角分, numbers digit by digit with 幺).
"""

from __future__ import annotations

from typing import Any

from ivr.normalize import date_short, date_time, digits, kwh, money, month, speakable

GREETING = "您好，欢迎致电九五五九八供电服务热线，为保证服务质量，您的通话可能被录音。"
MAIN_MENU = "电费查询请按一，故障报修请按二，停电信息查询请按三，人工服务请按零，重听请按九。"
NO_INPUT = "对不起，没有收到您的按键。"
INVALID_KEY = "对不起，您的按键无效，请重新选择。"
ASK_ACCOUNT = "请输入您的十位户号，以井号键结束。"
ACCOUNT_NOT_FOUND = "对不起，没有查询到该户号，请核对后重新输入。"
AGENTS_BUSY = "目前暂无人工座席可以接听。"
CALLBACK_OFFER = "需要我们回电请按一，结束通话请按二。"
CALLBACK_CREATED = "您的回电请求已登记，我们将尽快与您联系。"
DB_APOLOGY = "非常抱歉，系统暂时无法查询，请稍后再试。"
GOODBYE = "感谢您的来电，再见。"
LATEST_BILL_PREFIX = "您最近一期账单为"


def confirm_account(account_no: str) -> str:
    return f"您输入的户号是{digits(account_no)}，确认请按一，重新输入请按二。"


def caller_account_offer(account_no: str) -> str:
    return (f"系统查询到您的来电号码绑定的户号为{digits(account_no)}，"
            "确认请按一，查询其他户号请按二。")


def confirm_contact(phone: str) -> str:
    return f"您的联系电话是{digits(phone)}，确认请按一，输入其他号码请按二。"


def repair_created(order_no: str) -> str:
    return f"您的报修已受理，工单号{digits(order_no)}，抢修人员将尽快与您联系。"


def repair_existing(order_no: str, status: str) -> str:
    return (f"您的户号已有一张报修工单，工单号{digits(order_no)}，当前状态为{status}，"
            "抢修人员正在处理，请耐心等待。")


def repair_outage(kind: str, reason: str, restore: Any) -> str:
    return (f"您所在区域正在{kind}，原因是{speakable(reason)}，预计{date_time(restore)}恢复供电，"
            "给您带来不便，敬请谅解，无需重复报修。")


def bill_prompts(summary: Any) -> list[str]:
    """The three sentences of a bill query, from an ``AccountSummary`` read from the database."""
    out = [f"户号{digits(summary.account_no)}，您的账户余额为{money(summary.balance)}。"]
    if summary.amount_due > 0:
        out.append(f"您目前逾期欠费{money(summary.arrears)}，违约金{money(summary.late_fee)}，"
                   f"连同未到期账单合计应缴{money(summary.amount_due)}，请及时缴纳。")
    else:
        out.append("您目前没有欠费。")
    bill = summary.latest_bill
    if bill is None:
        out.append("您暂无账单记录。")
    else:
        head = (f"{LATEST_BILL_PREFIX}{month(bill.period)}，用电量{kwh(bill.kwh, '度')}，"
                f"电费{money(bill.amount)}，")
        out.append(head + ("已缴清。" if bill.paid
                           else f"尚未缴纳，缴费截止日期为{date_short(bill.due_date)}。"))
    return out
